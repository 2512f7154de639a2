namespace Outbox.Tests.Shared;

public sealed class RetryBackoffTests
{
    private static readonly TimeSpan Base = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(9, 256)]
    public void The_delay_doubles_per_attempt_and_full_jitter_gives_the_whole_of_it(int attempts, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryBackoff.Compute(attempts, Base, Max, jitter: 1));
    }

    [Fact]
    public void No_jitter_gives_half_the_delay_and_jitter_stays_within_half_and_all()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), RetryBackoff.Compute(3, Base, Max, jitter: 0));
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var delay = RetryBackoff.Compute(4, Base, Max, random.NextDouble());
            Assert.InRange(delay, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8));
        }
    }

    [Theory]
    [InlineData(10)]
    [InlineData(64)]
    [InlineData(int.MaxValue)]
    public void The_delay_is_capped_and_never_overflows(int attempts)
    {
        Assert.Equal(Max, RetryBackoff.Compute(attempts, Base, Max, jitter: 1));
    }

    [Fact]
    public void Attempts_start_at_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryBackoff.Compute(0, Base, Max, 0.5));
    }
}
