using System.Diagnostics;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>Every broker down for 10 s in the middle of a run: rows wait, the relay recovers by itself, nothing is lost, no busy loop.</summary>
public sealed class BrokerOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task All_brokers_down_for_10_seconds_mid_run_loses_nothing_and_does_not_spin()
    {
        // A cluster of its own: taking the shared one down would disturb other test classes.
        await using var kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 3 });
        var harness = await RelayHarness.CreateAsync(output, laneCount: 16, partitions: 6, kafka: kafka);
        try
        {
            var host = await harness.StartRelayHostAsync("relay-1");
            var relay = RelayHarness.RelayOf(host);
            var written = new Dictionary<string, int>();
            await WriteAsync(harness, written, 2000);
            await Eventually.TrueAsync(() => relay.Published >= 500, "the relay is publishing");

            kafka.SetAllBrokersDown();
            var claimsBefore = relay.ClaimedLanes;
            var failuresBefore = relay.FailedAttempts;
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var outage = Stopwatch.StartNew();
            await WriteAsync(harness, written, 2000);

            // The outage itself lasts 10 s (this is the scenario, not a synchronisation).
            await Task.Delay(TimeSpan.FromSeconds(10) - outage.Elapsed);
            var pendingDuringOutage = await harness.PendingAsync();
            var claims = relay.ClaimedLanes - claimsBefore;
            var failures = relay.FailedAttempts - failuresBefore;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            output.WriteLine($"during the 10 s outage: {claims} lane claims, {failures} failed attempts, {pendingDuringOutage} rows waiting, test process CPU {cpu.TotalSeconds:0.00} s (all test classes)");
            kafka.SetAllBrokersUp();

            Assert.True(pendingDuringOutage > 0, "rows should wait in the table while the brokers are down");
            Assert.True(claims <= 2 * relay.Options.MaxConcurrentLanes, $"{claims} claims while the brokers were down: a retry loop");
            Assert.True(failures <= relay.Options.MaxConcurrentLanes, $"{failures} failed attempts while the brokers were down");

            await WriteAsync(harness, written, 1000);
            await harness.WaitUntilDrainedAsync();
            var records = harness.ReadTopic(5000);
            var duplicates = harness.AssertAllInOrder(records, written);
            output.WriteLine($"{duplicates} duplicates after the outage");
        }
        finally
        {
            // Relay hosts (and their producers) go before the cluster.
            await harness.DisposeAsync();
        }
    }

    private static Task WriteAsync(RelayHarness harness, Dictionary<string, int> written, int count) =>
        harness.WriteManyAsync(count, keys: 100, written: written);
}
