namespace Outbox.Tests.Messages;

public sealed class LaneHashTests
{
    // Fixed vectors, computed with an independent implementation of the XxHash32 specification (seed 0): the lane is
    // part of the stored row format, so these must never change between versions.
    [Theory]
    [InlineData("", 64, 5)]
    [InlineData("user-1", 64, 45)]
    [InlineData("42", 64, 27)]
    [InlineData("ünïcødé-키", 64, 55)]
    [InlineData("user-1", 1, 0)]
    [InlineData("user-1", 1000, 957)]
    [InlineData("a-much-longer-aggregate-id-0123456789", 64, 56)]
    public void Lane_is_a_stable_xxhash32_of_the_utf8_key(string key, int lanes, int expected) =>
        Assert.Equal(expected, LaneHash.Compute(key, lanes));

    [Fact]
    public void Long_keys_use_the_pooled_buffer_and_hash_the_same_way()
    {
        var key = new string('k', 5000);
        var lane = LaneHash.Compute(key, 4096);
        Assert.Equal(lane, LaneHash.Compute(string.Concat(Enumerable.Repeat("k", 5000)), 4096));
        Assert.InRange(lane, 0, 4095);
    }

    [Fact]
    public void Keys_spread_over_lanes()
    {
        var counts = new int[64];
        for (var i = 0; i < 64_000; i++)
        {
            counts[LaneHash.Compute("key-" + i, 64)]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public void Lane_count_below_one_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => LaneHash.Compute("x", 0));
}
