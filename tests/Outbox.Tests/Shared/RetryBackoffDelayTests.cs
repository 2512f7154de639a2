namespace Outbox.Tests.Shared;

public sealed class RetryBackoffDelayTests
{
    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 200)]
    [InlineData(3, 400)]
    [InlineData(5, 1600)]
    [InlineData(6, 2000)]
    [InlineData(1000, 2000)]
    public void Doubles_from_the_initial_delay_up_to_the_cap(int failures, int expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), RetryBackoff.Delay(failures, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2)));

    [Fact]
    public void No_failure_or_no_initial_delay_means_no_wait()
    {
        Assert.Equal(TimeSpan.Zero, RetryBackoff.Delay(0, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2)));
        Assert.Equal(TimeSpan.Zero, RetryBackoff.Delay(3, TimeSpan.Zero, TimeSpan.FromSeconds(2)));
    }
}
