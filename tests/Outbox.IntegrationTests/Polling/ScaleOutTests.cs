using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>Several relay instances and concurrent writers: nothing lost, per-key order kept for every key.</summary>
public sealed class ScaleOutTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Three_relays_and_eight_writers_publish_50000_events_over_1000_keys_in_order()
    {
        const int events = 50_000;
        const int keys = 1_000;
        const int writers = 8;
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 64, partitions: 12);
        var hosts = new[]
        {
            await harness.StartRelayHostAsync("relay-1"),
            await harness.StartRelayHostAsync("relay-2"),
            await harness.StartRelayHostAsync("relay-3"),
        };

        // Writer w owns the keys k with k % writers == w, so each key's events commit in sequence order.
        var written = new ConcurrentDictionary<string, int>();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var myKeys = Enumerable.Range(0, keys).Where(k => k % writers == w).Select(k => "key-" + k).ToArray();
            var next = myKeys.ToDictionary(k => k, _ => 0);
            var remaining = events / writers;
            await using var connection = await harness.DataSource.OpenConnectionAsync();
            while (remaining > 0)
            {
                var size = Math.Min(remaining, random.Next(1, 6));
                await using var tx = await connection.BeginTransactionAsync();
                for (var i = 0; i < size; i++)
                {
                    var key = myKeys[random.Next(myKeys.Length)];
                    await harness.Writer.EnqueueAsync(connection, tx, new RelayTestEvent(key, next[key]++));
                }

                await tx.CommitAsync();
                remaining -= size;
            }

            foreach (var (key, count) in next)
            {
                if (count > 0)
                {
                    written[key] = count;
                }
            }
        })));
        output.WriteLine($"written {events} events in {watch.Elapsed.TotalSeconds:0.0} s");

        await harness.WaitUntilDrainedAsync(TimeSpan.FromMinutes(3));
        output.WriteLine($"drained {watch.Elapsed.TotalSeconds:0.0} s after the writers started");
        var records = harness.ReadTopic(events);
        var duplicates = harness.AssertAllInOrder(records, written);
        Assert.Equal(events, written.Values.Sum());
        Assert.Equal(events, records.Select(r => r.Id).Distinct().Count());

        var published = hosts.Select(h => RelayHarness.RelayOf(h).Published).ToArray();
        output.WriteLine($"published per relay: {string.Join(", ", published)}; duplicates in the topic: {duplicates}");
        Assert.True(published.Sum() >= events);
        Assert.All(published, p => Assert.True(p > 0, "every relay instance should have drained some lanes"));
    }
}
