using System.Diagnostics;
using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>The basic path: rows go to Kafka in commit order per key and leave the table; notifications wake the relay.</summary>
public sealed class PollingRelayDrainTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Rows_are_published_in_order_per_key_and_deleted()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 16);
        var written = await harness.WriteManyAsync(3000, keys: 50);
        var host = await harness.StartRelayHostAsync("relay-1", o => o.MaxBatchSize = 200);

        await harness.WaitUntilDrainedAsync();
        var records = harness.ReadTopic(3000);
        harness.AssertAllInOrder(records, written);
        Assert.Equal(3000, RelayHarness.RelayOf(host).Published);
        Assert.All(records, r => Assert.Equal(nameof(RelayTestEvent), r.Type));
    }

    [Fact]
    public async Task An_idle_relay_is_woken_by_the_commit_notification_not_the_poll()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 8);

        // A poll interval far longer than the test: only LISTEN/NOTIFY can explain a quick publish.
        var host = await harness.StartRelayHostAsync("relay-1", o => o.PollInterval = TimeSpan.FromMinutes(10));
        var relay = RelayHarness.RelayOf(host);
        await Eventually.TrueAsync(() => relay.Scheduler.Count == 8, "the relay holds every lane");
        await Eventually.TrueAsync(() => relay.Scheduler.Running == 0 && relay.ClaimedLanes >= 8, "the first look at every lane is done");

        var latencies = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var before = relay.Published;
            var watch = Stopwatch.StartNew();
            await harness.WriteAsync(new RelayTestEvent("idle-" + i, 0));
            await Eventually.TrueAsync(() => relay.Published > before, "the row is published", TimeSpan.FromSeconds(30));
            latencies.Add(watch.Elapsed.TotalMilliseconds);
        }

        latencies.Sort();
        output.WriteLine($"commit to Kafka ack and delete, idle relay: p50 {latencies[10]:0.0} ms, max {latencies[^1]:0.0} ms");
        Assert.True(latencies[10] < 1000, $"median {latencies[10]} ms: the notification did not wake the relay");
    }

    [Fact]
    public async Task Retention_mode_marks_rows_published_and_the_cleanup_job_deletes_them_later()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 8);
        var written = await harness.WriteManyAsync(500, keys: 20);
        var host = await harness.StartRelayHostAsync("relay-1", o =>
        {
            o.PublishedRetention = TimeSpan.FromSeconds(3);
            o.CleanupInterval = TimeSpan.FromMilliseconds(200);
        });

        await harness.WaitUntilDrainedAsync();
        Assert.True(await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE published_at IS NOT NULL") > 0, "published rows are kept for a while");
        await Eventually.TrueAsync(async () => await harness.ScalarAsync("SELECT count(*) FROM outbox.messages") == 0, "the cleanup job deletes them after the retention period");
        harness.AssertAllInOrder(harness.ReadTopic(500), written);
        Assert.Equal(500, RelayHarness.RelayOf(host).Published);
    }

    [Fact]
    public async Task Bad_relay_options_fail_at_host_start_naming_the_setting()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 4);
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            harness.StartRelayHostAsync("bad", o => o.HeartbeatInterval = TimeSpan.FromSeconds(10)));
        Assert.Contains("PollingRelayOptions.LeaseDuration", error.Message, StringComparison.Ordinal);
    }
}
