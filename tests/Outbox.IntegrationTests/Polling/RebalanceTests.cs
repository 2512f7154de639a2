using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>Live instances share the lanes evenly: a joining instance gets its share, a leaving one's lanes are taken at once.</summary>
public sealed class RebalanceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Lanes_rebalance_when_a_fourth_instance_joins_and_when_one_leaves_while_rows_keep_flowing()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 64);
        void Fast(Outbox.PollingRelayOptions o)
        {
            o.LeaseDuration = TimeSpan.FromSeconds(3);
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
        }

        var hosts = new List<Microsoft.Extensions.Hosting.IHost>
        {
            await harness.StartRelayHostAsync("relay-1", Fast),
            await harness.StartRelayHostAsync("relay-2", Fast),
            await harness.StartRelayHostAsync("relay-3", Fast),
        };

        using var stopWriting = new CancellationTokenSource();
        var written = new Dictionary<string, int>();
        var writer = Task.Run(async () =>
        {
            while (!stopWriting.IsCancellationRequested)
            {
                await harness.WriteManyAsync(200, keys: 200, written: written);
            }
        });

        await WaitForShareAsync(harness, hosts, expectedInstances: 3);

        hosts.Add(await harness.StartRelayHostAsync("relay-4", Fast));
        await WaitForShareAsync(harness, hosts, expectedInstances: 4);
        Assert.All(hosts, h => Assert.Equal(16, RelayHarness.RelayOf(h).Scheduler.Count));

        // A graceful leave gives the lanes back at once: no waiting for lease expiry.
        var leaving = hosts[1];
        await leaving.StopAsync();
        hosts.RemoveAt(1);
        Assert.Equal(0, await harness.ScalarAsync("SELECT count(*) FROM outbox.lanes WHERE owner = 'relay-2'"));
        await WaitForShareAsync(harness, hosts, expectedInstances: 3);

        await stopWriting.CancelAsync();
        await writer;
        await harness.WaitUntilDrainedAsync();
        var records = harness.ReadTopic(written.Values.Sum());
        var duplicates = harness.AssertAllInOrder(records, written);
        output.WriteLine($"{written.Values.Sum()} events, {duplicates} duplicates across the rebalances");
    }

    private async Task WaitForShareAsync(RelayHarness harness, List<Microsoft.Extensions.Hosting.IHost> hosts, int expectedInstances)
    {
        var share = (64 + expectedInstances - 1) / expectedInstances;
        await Eventually.TrueAsync(
            async () =>
            {
                var counts = hosts.Select(h => RelayHarness.RelayOf(h).Scheduler.Count).ToList();
                var owned = await harness.ScalarAsync("SELECT count(*) FROM outbox.lanes WHERE lane < 64 AND lease_expires_at > now()");
                return counts.Sum() == 64 && counts.All(c => c <= share && c >= 64 - (share * (expectedInstances - 1))) && owned == 64;
            },
            $"{expectedInstances} instances hold 64 lanes, at most {share} each",
            TimeSpan.FromSeconds(30));
        output.WriteLine($"{expectedInstances} instances: {string.Join(", ", hosts.Select(h => RelayHarness.RelayOf(h).Scheduler.Count))} lanes");
    }
}
