using System.Diagnostics;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Relay;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>Dead and zombie relays: lanes move after lease expiry, nothing is lost, and a fenced-off relay changes nothing.</summary>
public sealed class LeaseTakeoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_lanes_of_a_relay_that_died_mid_batch_move_to_another_after_lease_expiry_and_nothing_is_lost()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 8);
        var written = await harness.WriteManyAsync(2000, keys: 40);

        // The dying relay takes every lane, sends half of one batch to Kafka, and freezes: no heartbeat, no completion.
        var publisher = new GatedPublisher(harness.CreatePublisher(), passThrough: 50);
        var dying = harness.CreateEngine("dying", publisher, o =>
        {
            o.LeaseDuration = TimeSpan.FromSeconds(3);
            o.MaxBatchSize = 100;
        });
        await dying.PrepareAsync(CancellationToken.None);
        await dying.RunLeaseCycleAsync(CancellationToken.None);
        var lastHeartbeat = Stopwatch.StartNew();
        Assert.Equal(8, dying.Scheduler.Count);
        var lease = dying.Scheduler.Leases()[0];
        var frozen = dying.DrainOnceAsync(lease, CancellationToken.None);
        await publisher.Stalled;

        var survivorHost = await harness.StartRelayHostAsync("survivor", o => o.LeaseDuration = TimeSpan.FromSeconds(3));
        var survivor = RelayHarness.RelayOf(survivorHost);
        await Eventually.TrueAsync(() => survivor.Scheduler.Count > 0, "the survivor takes lanes over");
        var takeover = lastHeartbeat.Elapsed;
        output.WriteLine($"first lanes taken over {takeover.TotalSeconds:0.00} s after the dead relay's last heartbeat");
        Assert.True(takeover >= TimeSpan.FromSeconds(2.5), $"lanes moved after {takeover}, before the 3 s lease expired");

        await harness.WaitUntilDrainedAsync();
        Assert.Equal(8, survivor.Scheduler.Count);
        var records = harness.ReadTopic(2000);
        var duplicates = harness.AssertAllInOrder(records, written);
        Assert.True(duplicates >= 50, $"the 50 records the dead relay sent are sent again by the survivor; {duplicates} duplicates");

        // The frozen relay wakes up: its completion is fenced off.
        publisher.Open();
        Assert.Equal(DrainOutcomeKind.LeaseLost, (await frozen).Kind);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_zombie_whose_lease_was_taken_over_can_neither_delete_nor_mark_nor_record_failures(bool retainPublished)
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 1);
        for (var i = 0; i < 59; i++)
        {
            await harness.WriteAsync(new RelayTestEvent("z" + (i % 5), i / 5));
        }

        // Row 60 is over the producer's message.max.bytes: the zombie's batch also carries a failure to record.
        await harness.WriteAsync(new RelayTestEvent("poison", 0, new string('x', 50_000)));
        await harness.WriteAsync(new RelayTestEvent("after", 0));

        var publisher = new GatedPublisher(harness.CreatePublisher(RelayHarness.SmallProducer, RelayHarness.SmallPayloads));
        var zombie = harness.CreateEngine("zombie", publisher, retainPublished: retainPublished);
        await zombie.PrepareAsync(CancellationToken.None);
        await zombie.RunLeaseCycleAsync(CancellationToken.None);
        var lease = Assert.Single(zombie.Scheduler.Leases());
        var paused = zombie.DrainOnceAsync(lease, CancellationToken.None);
        await publisher.Stalled;

        // Its lease expires (no heartbeat) and another instance takes the lane with the next epoch.
        await Eventually.TrueAsync(async () => await harness.ScalarAsync("SELECT count(*) FROM outbox.lanes WHERE lane = 0 AND lease_expires_at <= now()") == 1, "the zombie's lease expires");
        var successor = harness.CreateEngine("successor", harness.CreatePublisher(RelayHarness.SmallProducer, RelayHarness.SmallPayloads), retainPublished: retainPublished);
        await successor.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(new LaneLease(0, lease.Epoch + 1), Assert.Single(successor.Scheduler.Leases()));

        publisher.Open();
        Assert.Equal(DrainOutcomeKind.LeaseLost, (await paused).Kind);
        Assert.Equal(61, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL"));
        Assert.Equal(0, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages_parked"));
        Assert.Equal(0, zombie.Published);

        // Its next heartbeat finds the lease gone; the lane is not its own any more.
        await zombie.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(0, zombie.Scheduler.Count);

        // The successor publishes everything before the poison row and parks the poison row's key (the producer can
        // never take it); the row after it, of another key, was not handed over behind the refusal: the next drain sends it.
        var successorLease = Assert.Single(successor.Scheduler.Leases());
        var outcome = await successor.DrainOnceAsync(successorLease, CancellationToken.None);
        Assert.Equal(DrainOutcomeKind.More, outcome.Kind);
        Assert.Equal(59, successor.Published);
        Assert.Equal(2, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL"));
        Assert.Equal(DrainOutcomeKind.Idle, (await successor.DrainOnceAsync(successorLease, CancellationToken.None)).Kind);
        Assert.Equal(60, successor.Published);
        Assert.Equal(1, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL AND aggregateid = 'poison'"));
        Assert.Equal(1, await harness.ScalarAsync(
            "SELECT count(*) FROM outbox.messages_parked WHERE aggregateid = 'poison' AND attempts = 1 AND parked_at IS NOT NULL AND last_error LIKE '%SizeTooLarge%'"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_relay_paused_between_its_claim_and_the_producer_never_publishes_that_stale_batch(bool heartbeatAfterWaking)
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 1);
        var written = await harness.WriteManyAsync(40, keys: 4);

        // The zombie reads its batch, then freezes before handing it to the producer.
        PausingStore? pausing = null;
        var zombie = harness.CreateEngine("zombie", harness.CreatePublisher(), wrapStore: inner => pausing = new PausingStore(inner));
        await zombie.PrepareAsync(CancellationToken.None);
        await zombie.RunLeaseCycleAsync(CancellationToken.None);
        var lease = Assert.Single(zombie.Scheduler.Leases());
        var paused = zombie.DrainOnceAsync(lease, CancellationToken.None);
        await pausing!.Paused;

        // Its lease expires; a successor takes the lane over, publishes the batch and newer events of the same keys.
        await Eventually.TrueAsync(async () => await harness.ScalarAsync("SELECT count(*) FROM outbox.lanes WHERE lane = 0 AND lease_expires_at <= now()") == 1, "the zombie's lease expires");
        var successor = harness.CreateEngine("successor", harness.CreatePublisher());
        await successor.RunLeaseCycleAsync(CancellationToken.None);
        var successorLease = Assert.Single(successor.Scheduler.Leases());
        Assert.Equal(DrainOutcomeKind.Idle, (await successor.DrainOnceAsync(successorLease, CancellationToken.None)).Kind);
        await harness.WriteManyAsync(20, keys: 4, written: written);
        Assert.Equal(DrainOutcomeKind.Idle, (await successor.DrainOnceAsync(successorLease, CancellationToken.None)).Kind);

        if (heartbeatAfterWaking)
        {
            // The zombie's heartbeat runs first on waking: its clock is fresh again, but the lane is gone.
            await zombie.RunLeaseCycleAsync(CancellationToken.None);
        }

        pausing.Resume();
        var outcome = await paused;
        Assert.NotEqual(DrainOutcomeKind.Idle, outcome.Kind);
        Assert.NotEqual(DrainOutcomeKind.More, outcome.Kind);
        Assert.Equal(0, zombie.Published);

        // Every event exactly once and in order: the stale batch never reached Kafka.
        var records = harness.ReadTopic(60);
        Assert.Equal(0, harness.AssertAllInOrder(records, written));
        Assert.Equal(60, records.Count);
    }
}
