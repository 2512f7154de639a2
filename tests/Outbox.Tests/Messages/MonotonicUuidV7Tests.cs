using Microsoft.Extensions.Time.Testing;

namespace Outbox.Tests.Messages;

public sealed class MonotonicUuidV7Tests
{
    [Fact]
    public void Ids_are_version_7_and_carry_the_providers_time()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var id = new MonotonicUuidV7(time).Next();

        Assert.Equal(7, id.Version);
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        long ms = 0;
        for (var i = 0; i < 6; i++)
        {
            ms = (ms << 8) | bytes[i];
        }

        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), ms);
        Assert.Equal(0x80, bytes[8] & 0xC0); // RFC 9562 variant
    }

    [Fact]
    public void Ids_strictly_increase_within_one_millisecond_and_past_the_counter()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var generator = new MonotonicUuidV7(time);
        var ids = Enumerable.Range(0, 10_000).Select(_ => generator.Next()).ToList();

        for (var i = 1; i < ids.Count; i++)
        {
            Assert.True(ids[i - 1].CompareTo(ids[i]) < 0, $"id {i} does not follow id {i - 1}");
        }

        Assert.All(ids, id => Assert.Equal(7, id.Version));
    }

    [Fact]
    public void Ids_stay_increasing_when_the_clock_goes_back()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        var generator = new MonotonicUuidV7(time);
        var first = generator.Next();
        time.AdjustTime(time.GetUtcNow().AddSeconds(-5));
        Assert.True(first.CompareTo(generator.Next()) < 0);
    }
}
