using Microsoft.Extensions.Time.Testing;
using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay.Polling;

public sealed class LaneSchedulerTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task An_acquired_lane_is_queued_and_taken_once()
    {
        var scheduler = new LaneScheduler(_time);
        scheduler.Add(new LaneLease(3, 7));
        scheduler.Signal(3);

        var lease = await scheduler.TakeAsync(CancellationToken.None);
        Assert.Equal(new LaneLease(3, 7), lease);
        Assert.Equal(1, scheduler.Running);
        Assert.False(scheduler.TryStart(3, out _));
    }

    [Fact]
    public void A_signal_during_a_drain_queues_the_lane_again_after_it_even_if_the_drain_saw_it_empty()
    {
        var scheduler = new LaneScheduler(_time);
        var lease = new LaneLease(1, 1);
        scheduler.Add(lease);
        Assert.True(scheduler.TryStart(1, out _));

        scheduler.Signal(1);
        scheduler.Finished(lease, DrainOutcome.Idle());

        Assert.True(scheduler.TryStart(1, out _));
    }

    [Fact]
    public void An_idle_lane_waits_for_a_signal()
    {
        var scheduler = new LaneScheduler(_time);
        var lease = new LaneLease(1, 1);
        scheduler.Add(lease);
        Assert.True(scheduler.TryStart(1, out _));
        scheduler.Finished(lease, DrainOutcome.Idle());

        Assert.False(scheduler.TryStart(1, out _));
        scheduler.Signal(1);
        Assert.True(scheduler.TryStart(1, out _));
    }

    [Fact]
    public void A_full_batch_queues_the_lane_again_at_once()
    {
        var scheduler = new LaneScheduler(_time);
        var lease = new LaneLease(1, 1);
        scheduler.Add(lease);
        Assert.True(scheduler.TryStart(1, out _));
        scheduler.Finished(lease, DrainOutcome.More(500));
        Assert.True(scheduler.TryStart(1, out _));
    }

    [Fact]
    public void A_lane_waiting_for_a_retry_ignores_signals_until_its_time_comes()
    {
        var scheduler = new LaneScheduler(_time);
        var lease = new LaneLease(1, 1);
        scheduler.Add(lease);
        Assert.True(scheduler.TryStart(1, out _));
        scheduler.Finished(lease, DrainOutcome.RetryLater(TimeSpan.FromSeconds(10)));

        scheduler.Signal(1);
        scheduler.SignalAll();
        Assert.False(scheduler.TryStart(1, out _));

        _time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(scheduler.TryStart(1, out _));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(scheduler.TryStart(1, out _));
    }

    [Fact]
    public void A_lost_lease_drops_the_lane_and_its_pending_retry()
    {
        var scheduler = new LaneScheduler(_time);
        var lease = new LaneLease(1, 1);
        scheduler.Add(lease);
        Assert.True(scheduler.TryStart(1, out _));
        scheduler.Finished(lease, DrainOutcome.LeaseLost);

        Assert.False(scheduler.Holds(1));
        scheduler.Signal(1);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.False(scheduler.TryStart(1, out _));
    }

    [Fact]
    public void A_running_lane_cannot_be_detached_but_idle_and_waiting_ones_can()
    {
        var scheduler = new LaneScheduler(_time);
        scheduler.Add(new LaneLease(1, 1));
        scheduler.Add(new LaneLease(2, 1));
        scheduler.Add(new LaneLease(3, 1));
        Assert.True(scheduler.TryStart(1, out _));
        Assert.True(scheduler.TryStart(2, out var waiting));
        scheduler.Finished(waiting, DrainOutcome.RetryLater(TimeSpan.FromMinutes(1)));
        Assert.True(scheduler.TryStart(3, out var idle));
        scheduler.Finished(idle, DrainOutcome.Idle());

        Assert.Equal([3, 2], scheduler.DetachCandidates());
        Assert.False(scheduler.TryDetach(1, out _));
        Assert.True(scheduler.TryDetach(2, out var released));
        Assert.Equal(new LaneLease(2, 1), released);
        Assert.Equal(2, scheduler.Count);
    }

    [Fact]
    public void A_lane_reacquired_with_a_new_epoch_during_a_drain_starts_over_under_the_new_lease()
    {
        var scheduler = new LaneScheduler(_time);
        var old = new LaneLease(1, 1);
        scheduler.Add(old);
        Assert.True(scheduler.TryStart(1, out _));
        scheduler.Add(new LaneLease(1, 2));
        scheduler.Finished(old, DrainOutcome.LeaseLost);

        Assert.True(scheduler.TryStart(1, out var current));
        Assert.Equal(new LaneLease(1, 2), current);
    }

    [Fact]
    public void A_lane_lost_and_acquired_again_is_not_drained_while_the_old_drain_still_runs()
    {
        var scheduler = new LaneScheduler(_time);
        var old = new LaneLease(1, 1);
        scheduler.Add(old);
        Assert.True(scheduler.TryStart(1, out _));
        scheduler.Remove(1);
        scheduler.Add(new LaneLease(1, 3));

        Assert.False(scheduler.TryStart(1, out _));
        scheduler.Finished(old, DrainOutcome.LeaseLost);

        Assert.True(scheduler.TryStart(1, out var current));
        Assert.Equal(new LaneLease(1, 3), current);
    }

    [Fact]
    public async Task Complete_ends_the_workers()
    {
        var scheduler = new LaneScheduler(_time);
        scheduler.Complete();
        await Assert.ThrowsAnyAsync<System.Threading.Channels.ChannelClosedException>(() => scheduler.TakeAsync(CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task A_cycle_after_a_quiet_spell_starts_at_once_and_takes_every_queued_lane()
    {
        var scheduler = new LaneScheduler(_time);
        for (var lane = 0; lane < 4; lane++)
        {
            scheduler.Add(new LaneLease(lane, 1));
        }

        var cycle = scheduler.TakeManyAsync(8, TimeSpan.FromMilliseconds(5), CancellationToken.None);
        Assert.True(cycle.IsCompleted, "a cycle after a quiet spell must not wait");
        Assert.Equal([0, 1, 2, 3], (await cycle).Select(l => l.Lane).Order());
        Assert.Equal(4, scheduler.Running);
    }

    [Fact]
    public async Task A_cycle_that_follows_another_within_the_linger_waits_for_it_and_gathers_the_lanes_queued_meanwhile()
    {
        var scheduler = new LaneScheduler(_time);
        for (var lane = 0; lane < 3; lane++)
        {
            scheduler.Add(new LaneLease(lane, 1));
        }

        var first = await scheduler.TakeManyAsync(1, TimeSpan.FromMilliseconds(5), CancellationToken.None);
        Assert.Equal(0, Assert.Single(first).Lane);

        // The next cycle starts 5 ms after the first one: it waits, and takes lanes 1 and 2 (and 0, signalled again) together.
        var second = scheduler.TakeManyAsync(8, TimeSpan.FromMilliseconds(5), CancellationToken.None).AsTask();
        Assert.False(second.IsCompleted, "the second cycle must wait for the linger");
        scheduler.Finished(first[0], DrainOutcome.More(10));
        _time.Advance(TimeSpan.FromMilliseconds(5));
        var taken = await second.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([0, 1, 2], taken.Select(l => l.Lane).Order());
    }

    [Fact]
    public async Task A_cycle_takes_no_more_lanes_than_its_share()
    {
        var scheduler = new LaneScheduler(_time);
        for (var lane = 0; lane < 6; lane++)
        {
            scheduler.Add(new LaneLease(lane, 1));
        }

        var first = await scheduler.TakeManyAsync(4, TimeSpan.Zero, CancellationToken.None);
        var second = await scheduler.TakeManyAsync(4, TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(4, first.Count);
        Assert.Equal(2, second.Count);
        Assert.Empty(first.Select(l => l.Lane).Intersect(second.Select(l => l.Lane)));
    }
}
