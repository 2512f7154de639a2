using Outbox.IntegrationTests.Infrastructure;
using Outbox.Relay;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>A drain cycle claims, publishes and settles several lanes together, and fences each lane by its own lease.</summary>
public sealed class DrainCycleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_cycle_claims_publishes_and_completes_every_lane_it_took_with_one_claim_in_commit_order()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 4);
        var written = await harness.WriteManyAsync(400, keys: 40);
        var relay = harness.CreateEngine("one", harness.CreatePublisher());
        await relay.PrepareAsync(CancellationToken.None);
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        var leases = relay.Scheduler.Leases();
        Assert.Equal(4, leases.Count);

        var outcomes = await relay.DrainOnceAsync(leases, CancellationToken.None);

        Assert.All(outcomes, o => Assert.Equal(DrainOutcomeKind.Idle, o.Kind));
        Assert.Equal(400, outcomes.Sum(o => o.Published));
        Assert.Equal(1, relay.Claims);
        Assert.Equal(4, relay.ClaimedLanes);
        Assert.Equal(0, await harness.PendingAsync());
        Assert.Equal(0, harness.AssertAllInOrder(harness.ReadTopic(400), written));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_cycle_whose_lease_on_one_lane_was_taken_over_settles_its_other_lanes_and_changes_nothing_of_that_lane(bool retainPublished)
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 2);
        var written = await harness.WriteManyAsync(200, keys: 20);
        var perLane = await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE lane = 1");
        Assert.True(perLane > 0 && perLane < 200, $"the rows should spread over both lanes; lane 1 has {perLane}");

        var publisher = new GatedPublisher(harness.CreatePublisher());
        var zombie = harness.CreateEngine("zombie", publisher, retainPublished: retainPublished);
        await zombie.PrepareAsync(CancellationToken.None);
        await zombie.RunLeaseCycleAsync(CancellationToken.None);
        var leases = zombie.Scheduler.Leases();
        Assert.Equal(2, leases.Count);
        var paused = zombie.DrainOnceAsync(leases, CancellationToken.None);
        await publisher.Stalled;

        // Lane 1's lease lapses (as if the zombie missed its heartbeats for that lane) and a successor takes it over.
        await harness.ScalarAsync("WITH x AS (UPDATE outbox.lanes SET lease_expires_at = now() - interval '1 second' WHERE lane = 1 RETURNING 1) SELECT count(*) FROM x");
        var successor = harness.CreateEngine("successor", harness.CreatePublisher(), retainPublished: retainPublished);
        await successor.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(1, Assert.Single(successor.Scheduler.Leases()).Lane);

        publisher.Open();
        var outcomes = await paused;
        Assert.Equal(DrainOutcomeKind.Idle, outcomes[leases.ToList().FindIndex(l => l.Lane == 0)].Kind);
        Assert.Equal(DrainOutcomeKind.LeaseLost, outcomes[leases.ToList().FindIndex(l => l.Lane == 1)].Kind);

        // Lane 0 is done; every row of lane 1 still waits for its new owner, which publishes them.
        Assert.Equal(perLane, await harness.PendingAsync());
        Assert.Equal(perLane, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL AND lane = 1"));
        Assert.Equal(200 - perLane, zombie.Published);
        var outcome = await successor.DrainOnceAsync(Assert.Single(successor.Scheduler.Leases()), CancellationToken.None);
        Assert.Equal(DrainOutcomeKind.Idle, outcome.Kind);
        Assert.Equal(0, await harness.PendingAsync());
        var duplicates = harness.AssertAllInOrder(harness.ReadTopic(200 + (int)perLane), written);
        Assert.Equal(perLane, duplicates);
    }
}
