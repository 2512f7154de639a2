using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay.Polling;

/// <summary>
/// The polling relay's decisions with a fake store and a fake publisher and <see cref="FakeTimeProvider"/>: what a drain
/// does with a lease lost, each class of publish failure, the transient backoff and parking, and how the lease cycle
/// shares lanes. The integration tests (tests/Outbox.IntegrationTests/Polling) check the same against PostgreSQL and
/// Kafka; these run in milliseconds.
/// </summary>
public sealed class PollingRelayTests : IDisposable
{
    private const string Me = "relay-1";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeStore _store;
    private readonly FakePublisher _publisher = new();
    private readonly TestMeterFactory _meters = new();
    private readonly PollingRelayOptions _options = new()
    {
        InstanceId = Me,
        MaxBatchSize = 3,
        LeaseDuration = TimeSpan.FromSeconds(30),
        HeartbeatInterval = TimeSpan.FromSeconds(10),
        MaxAttempts = 2,
        InitialRetryDelay = TimeSpan.FromSeconds(1),
        MaxRetryDelay = TimeSpan.FromSeconds(20),
    };

    private readonly OutboxOptions _outbox = new() { LaneCount = 4, TopicTemplate = "t.{aggregatetype}" };

    public PollingRelayTests() => _store = new FakeStore(_time);

    public void Dispose() => _meters.Dispose();

    [Fact]
    public async Task Without_a_valid_heartbeat_a_drain_claims_nothing_and_waits_for_the_next_heartbeat()
    {
        var relay = CreateRelay();
        _store.Add(Row(0, "a"));

        var outcome = await relay.DrainOnceAsync(new LaneLease(0, 1), CancellationToken.None);

        Assert.Equal(DrainOutcome.RetryLater(_options.HeartbeatInterval), outcome);
        Assert.Equal(0, _store.Claims);
        Assert.Empty(_publisher.Published);
    }

    [Fact]
    public async Task A_full_batch_asks_for_more_a_short_one_goes_idle_and_an_empty_lane_is_idle()
    {
        var relay = await StartedRelayAsync();
        _store.Add(Row(0, "a"), Row(0, "a"), Row(0, "b"), Row(0, "a"), Row(0, "b"));
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);

        Assert.Equal(DrainOutcome.More(3), await relay.DrainOnceAsync(lease, CancellationToken.None));
        Assert.Equal(DrainOutcome.Idle(2), await relay.DrainOnceAsync(lease, CancellationToken.None));
        Assert.Equal(DrainOutcome.Idle(), await relay.DrainOnceAsync(lease, CancellationToken.None));

        Assert.Empty(_store.Pending(0));
        Assert.Equal(5, relay.Published);
        Assert.Equal(_store.Written.Select(m => m.Id), _publisher.Published.Select(m => m.Id));
    }

    [Fact]
    public async Task A_lease_the_heartbeat_found_lost_drops_the_claimed_batch_unpublished()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        _store.Add(Row(0, "a"));
        _store.TakeOver(0);
        await relay.RunLeaseCycleAsync(CancellationToken.None);

        var outcome = await relay.DrainOnceAsync(lease, CancellationToken.None);

        Assert.Equal(DrainOutcome.LeaseLost, outcome);
        Assert.Empty(_publisher.Published);
        Assert.Single(_store.Pending(0));
    }

    [Fact]
    public async Task A_lease_taken_over_while_publishing_is_fenced_at_completion_and_changes_nothing()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        _store.Add(Row(0, "a"), Row(0, "b"));
        _publisher.During = () => _store.TakeOver(0);

        var outcome = await relay.DrainOnceAsync(lease, CancellationToken.None);

        Assert.Equal(DrainOutcome.LeaseLost, outcome);
        Assert.Equal(2, _publisher.Published.Count);
        Assert.Equal(2, _store.Pending(0).Count);
        Assert.Equal(0, relay.Published);
    }

    [Fact]
    public async Task A_record_failure_holds_back_its_key_in_order_while_the_lane_goes_on_with_the_others()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        var a1 = Row(0, "a");
        var a2 = Row(0, "a");
        var b1 = Row(0, "b");
        _store.Add(a1, a2, b1);
        _publisher.Result = m => m.Id == a1.Id ? PublishResult.Failed("too large for now") : PublishResult.Acknowledged;

        var outcome = await relay.DrainOnceAsync(lease, CancellationToken.None);

        // b is done; a's failed row and the row behind it wait, in order; the lane is drained again at once.
        Assert.Equal(DrainOutcome.More(1), outcome);
        Assert.Equal([a1.Id, a2.Id], _store.Pending(0).Select(m => m.Id));
        Assert.Equal(new KeyFailureOutcome(1, false, _options.InitialRetryDelay), _store.Outcomes[a1.Id]);
        Assert.Equal(1, relay.FailedAttempts);
        Assert.Equal(0, relay.Parked);

        // The held key is left out of the next claim: nothing to do until its retry is due.
        Assert.Equal(DrainOutcome.Idle(), await relay.DrainOnceAsync(lease, CancellationToken.None));
    }

    [Fact]
    public async Task A_key_parks_when_its_attempts_are_used_up()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        var a1 = Row(0, "a");
        _store.Add(a1);
        _publisher.Result = _ => PublishResult.Failed("refused");

        await relay.DrainOnceAsync(lease, CancellationToken.None);
        _store.ReleaseRetries();
        await relay.DrainOnceAsync(lease, CancellationToken.None);

        Assert.Equal(new KeyFailureOutcome(2, true, TimeSpan.Zero), _store.Outcomes[a1.Id]);
        Assert.Equal(2, relay.FailedAttempts);
        Assert.Equal(1, relay.Parked);
    }

    [Fact]
    public async Task A_permanent_failure_parks_its_key_at_the_first_attempt()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        var a1 = Row(0, "a");
        _store.Add(a1, Row(0, "b"));
        _publisher.Result = m => m.Id == a1.Id ? PublishResult.Failed("MsgSizeTooLarge", PublishFailureKind.Permanent) : PublishResult.Acknowledged;

        Assert.Equal(DrainOutcome.More(1), await relay.DrainOnceAsync(lease, CancellationToken.None));

        Assert.True(_store.Outcomes[a1.Id].Parked);
        Assert.Equal(1, relay.Parked);
    }

    [Fact]
    public async Task A_transient_failure_counts_nothing_against_the_rows_and_backs_off_doubling_up_to_the_cap()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        _store.Add(Row(0, "a"), Row(0, "b"));
        _publisher.Result = _ => PublishResult.Failed("broker down", PublishFailureKind.Transient);

        var delays = new List<TimeSpan>();
        for (var i = 0; i < 7; i++)
        {
            var outcome = await relay.DrainOnceAsync(lease, CancellationToken.None);
            Assert.Equal(DrainOutcomeKind.RetryLater, outcome.Kind);
            delays.Add(outcome.Delay);
        }

        // Jitter pinned to its maximum: 1, 2, 4, 8, 16 s, then the cap (MaxRetryDelay 20 s, never above 30 s).
        Assert.Equal([1, 2, 4, 8, 16, 20, 20], delays.Select(d => d.TotalSeconds));
        Assert.Empty(_store.Outcomes);
        Assert.Equal(0, relay.FailedAttempts);
        Assert.Equal(2, _store.Pending(0).Count);

        // The broker is back: the streak starts over.
        _publisher.Result = _ => PublishResult.Acknowledged;
        Assert.Equal(DrainOutcome.Idle(2), await relay.DrainOnceAsync(lease, CancellationToken.None));
        _store.Add(Row(0, "a"));
        _publisher.Result = _ => PublishResult.Failed("broker down", PublishFailureKind.Transient);
        Assert.Equal(DrainOutcome.RetryLater(TimeSpan.FromSeconds(1)), await relay.DrainOnceAsync(lease, CancellationToken.None));
    }

    [Fact]
    public async Task Rows_the_publisher_did_not_attempt_are_tried_again_shortly_without_counting_an_attempt()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        var a1 = Row(0, "a");
        _store.Add(a1, Row(0, "b"));
        _publisher.Result = m => m.Id == a1.Id ? PublishResult.Acknowledged : PublishResult.NotAttempted;

        Assert.Equal(DrainOutcome.RetryLater(_options.InitialRetryDelay, 1), await relay.DrainOnceAsync(lease, CancellationToken.None));
        Assert.Single(_store.Pending(0));
        Assert.Empty(_store.Outcomes);
    }

    [Fact]
    public async Task When_the_heartbeat_is_older_than_the_lease_allows_draining_stops_until_the_next_one()
    {
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        _store.Add(Row(0, "a"));

        // The usable part of a 30 s lease is 27 s.
        _time.Advance(TimeSpan.FromSeconds(27));
        Assert.Equal(DrainOutcome.RetryLater(_options.HeartbeatInterval), await relay.DrainOnceAsync(lease, CancellationToken.None));
        Assert.Empty(_publisher.Published);

        await relay.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(DrainOutcome.Idle(1), await relay.DrainOnceAsync(lease, CancellationToken.None));
    }

    [Fact]
    public async Task A_failed_heartbeat_after_the_lease_ran_out_drops_every_lane()
    {
        var relay = await StartedRelayAsync();
        Assert.Equal(4, relay.Scheduler.Count);
        _store.RenewError = new TimeoutException("database unreachable");

        // Within the lease a failed heartbeat keeps the lanes; beyond it they are dropped.
        await Assert.ThrowsAsync<TimeoutException>(() => relay.RunLeaseCycleAsync(CancellationToken.None));
        Assert.Equal(4, relay.Scheduler.Count);
        _time.Advance(TimeSpan.FromSeconds(28));
        await Assert.ThrowsAsync<TimeoutException>(() => relay.RunLeaseCycleAsync(CancellationToken.None));
        Assert.Equal(0, relay.Scheduler.Count);

        // The database is back before the leases expired there: nothing to take yet; after they did, all of them.
        _store.RenewError = null;
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(0, relay.Scheduler.Count);
        _time.Advance(TimeSpan.FromSeconds(3));
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(4, relay.Scheduler.Count);
    }

    [Fact]
    public async Task The_lease_cycle_takes_and_gives_back_lanes_to_hold_an_even_share_of_the_live_instances()
    {
        var relay = CreateRelay();
        await relay.PrepareAsync(CancellationToken.None);
        _store.LiveInstances = 2;
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(2, relay.Scheduler.Count);

        _store.LiveInstances = 4;
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(1, relay.Scheduler.Count);
        Assert.Equal(3, _store.Free);

        _store.LiveInstances = 1;
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(4, relay.Scheduler.Count);
    }

    [Fact]
    public async Task The_lanes_owned_gauge_and_the_counters_report_what_the_relay_did()
    {
        using var lanes = new MetricCollector<int>(_meters, OutboxDiagnostics.RelaySourceName, "outbox.relay.lanes.owned");
        using var published = new MetricCollector<long>(_meters, OutboxDiagnostics.RelaySourceName, "outbox.relay.published");
        using var failed = new MetricCollector<long>(_meters, OutboxDiagnostics.RelaySourceName, "outbox.relay.failed");
        var relay = await StartedRelayAsync();
        var lease = relay.Scheduler.Leases().Single(l => l.Lane == 0);
        var a1 = Row(0, "a");
        _store.Add(a1, Row(0, "b"), Row(0, "b"));
        _publisher.Result = m => m.Id == a1.Id ? PublishResult.Failed("refused") : PublishResult.Acknowledged;
        await relay.DrainOnceAsync(lease, CancellationToken.None);

        lanes.RecordObservableInstruments();
        var owned = Assert.Single(lanes.GetMeasurementSnapshot());
        Assert.Equal(4, owned.Value);
        Assert.Equal(Me, owned.Tags["outbox.relay.instance"]);
        Assert.Equal(2, published.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal("t.order", published.LastMeasurement!.Tags["messaging.destination.name"]);
        var failure = Assert.Single(failed.GetMeasurementSnapshot());
        Assert.Equal("record", failure.Tags["error.type"]);

        await relay.ReleaseAllAsync(CancellationToken.None);
        lanes.Clear();
        lanes.RecordObservableInstruments();
        Assert.Empty(lanes.GetMeasurementSnapshot());
        Assert.Equal(4, _store.Free);
    }

    private PollingRelay CreateRelay() =>
        new(_store, _publisher, _options, _outbox, _time, new RelayTelemetry(_meters), NullLogger<PollingRelay>.Instance, jitter: () => 1.0);

    private async Task<PollingRelay> StartedRelayAsync()
    {
        var relay = CreateRelay();
        await relay.PrepareAsync(CancellationToken.None);
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        Assert.Equal(4, relay.Scheduler.Count);
        return relay;
    }

    private static OutboxRecord Row(int lane, string key) => new()
    {
        Id = Guid.CreateVersion7(),
        AggregateType = "order",
        AggregateId = key,
        Type = "OrderPlaced",
        Payload = "{}",
        Lane = lane,
    };

    private sealed class FakePublisher : IOutboxPublisher
    {
        public List<OutboxRecord> Published { get; } = [];

        public Func<OutboxRecord, PublishResult> Result { get; set; } = _ => PublishResult.Acknowledged;

        /// <summary>Runs while the batch is with the broker (before the acknowledgements return).</summary>
        public Action? During { get; set; }

        public ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
        {
            Published.AddRange(messages);
            During?.Invoke();
            return ValueTask.FromResult(messages.Select(Result).ToArray());
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>
    /// The store's contract in memory: leases fenced by owner and epoch, claims in order leaving out held keys, failures
    /// counted per event (parked at MaxAttempts or when permanent). Retry times are not modelled: a held key waits until
    /// <see cref="ReleaseRetries"/>.
    /// </summary>
    private sealed class FakeStore(TimeProvider time) : IPollingRelayStore
    {
        private readonly Dictionary<int, (string? Owner, long Epoch)> _lanes = [];
        private readonly Dictionary<int, DateTimeOffset> _expiresAt = [];
        private readonly List<OutboxRecord> _rows = [];
        private readonly Dictionary<Guid, int> _attempts = [];
        private readonly HashSet<string> _heldKeys = [];
        private readonly HashSet<string> _parkedKeys = [];

        public List<OutboxRecord> Written { get; } = [];

        public Dictionary<Guid, KeyFailureOutcome> Outcomes { get; } = [];

        public int LiveInstances { get; set; } = 1;

        public Exception? RenewError { get; set; }

        public int Claims { get; private set; }

        public int Free => _lanes.Values.Count(l => l.Owner is null);

        public void Add(params OutboxRecord[] rows)
        {
            _rows.AddRange(rows);
            Written.AddRange(rows);
        }

        public List<OutboxRecord> Pending(int lane) => _rows.Where(r => r.Lane == lane).ToList();

        public void TakeOver(int lane) => _lanes[lane] = ("someone-else", _lanes[lane].Epoch + 1);

        public void ReleaseRetries() => _heldKeys.RemoveWhere(k => !_parkedKeys.Contains(k));

        public Task<IReadOnlyList<int>> PrepareAsync(int laneCount, CancellationToken cancellationToken)
        {
            for (var lane = 0; lane < laneCount; lane++)
            {
                _lanes.TryAdd(lane, (null, 0));
            }

            return Task.FromResult<IReadOnlyList<int>>([]);
        }

        public Task<LeaseRenewal> RenewAsync(string instanceId, IReadOnlyList<LaneLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken)
        {
            if (RenewError is { } error)
            {
                return Task.FromException<LeaseRenewal>(error);
            }

            var held = leases.Where(l => Holds(instanceId, l)).ToList();
            foreach (var lease in held)
            {
                _expiresAt[lease.Lane] = time.GetUtcNow() + leaseDuration;
            }

            return Task.FromResult(new LeaseRenewal(held, LiveInstances));
        }

        public Task<IReadOnlyList<LaneLease>> AcquireAsync(
            string instanceId, int count, int laneCount, IReadOnlyCollection<int> held, TimeSpan leaseDuration, CancellationToken cancellationToken)
        {
            var acquired = new List<LaneLease>();
            var now = time.GetUtcNow();
            var free = _lanes.Where(l => l.Key < laneCount && !held.Contains(l.Key) && (l.Value.Owner is null || _expiresAt.GetValueOrDefault(l.Key) <= now));
            foreach (var (lane, state) in free.OrderBy(l => l.Key).Take(count).ToList())
            {
                _lanes[lane] = (instanceId, state.Epoch + 1);
                _expiresAt[lane] = now + leaseDuration;
                acquired.Add(new LaneLease(lane, state.Epoch + 1));
            }

            return Task.FromResult<IReadOnlyList<LaneLease>>(acquired);
        }

        public Task ReleaseAsync(string instanceId, IReadOnlyList<LaneLease> leases, CancellationToken cancellationToken)
        {
            foreach (var lease in leases.Where(l => Holds(instanceId, l)))
            {
                _lanes[lease.Lane] = (null, lease.Epoch);
            }

            return Task.CompletedTask;
        }

        public Task LeaveAsync(string instanceId, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<LaneBatch>> ClaimAsync(IReadOnlyList<int> lanes, int batchSize, long maxBytesPerLane, CancellationToken cancellationToken)
        {
            Claims++;
            return Task.FromResult<IReadOnlyList<LaneBatch>>(lanes
                .Select(lane => new LaneBatch(_rows.Where(r => r.Lane == lane && !_heldKeys.Contains(r.AggregateId)).Take(batchSize).ToList()))
                .ToList());
        }

        public Task<LaneCompletion> CompleteAsync(
            string instanceId,
            IReadOnlyList<LaneLease> leases,
            IReadOnlyList<Guid> acknowledged,
            IReadOnlyList<Guid> retried,
            IReadOnlyList<KeyFailure> failures,
            KeyRetryPolicy policy,
            CancellationToken cancellationToken)
        {
            var held = leases.Where(l => Holds(instanceId, l)).Select(l => l.Lane).ToHashSet();
            _rows.RemoveAll(r => held.Contains(r.Lane) && acknowledged.Contains(r.Id));
            var outcomes = new List<KeyFailureOutcome?>();
            foreach (var failure in failures)
            {
                if (!held.Contains(failure.Message.Lane))
                {
                    outcomes.Add(null);
                    continue;
                }

                var attempts = _attempts[failure.Message.Id] = _attempts.GetValueOrDefault(failure.Message.Id) + 1;
                var parked = failure.Permanent || attempts >= policy.MaxAttempts;
                var outcome = new KeyFailureOutcome(attempts, parked, parked ? TimeSpan.Zero : RetryBackoff.Delay(attempts, policy.BaseDelay, policy.MaxDelay));
                Outcomes[failure.Message.Id] = outcome;
                _heldKeys.Add(failure.Message.AggregateId);
                if (parked)
                {
                    _parkedKeys.Add(failure.Message.AggregateId);
                }
                outcomes.Add(outcome);
            }

            return Task.FromResult(new LaneCompletion(held, outcomes));
        }

        public Task<IReadOnlyList<int>> FindReadyLanesAsync(IReadOnlyCollection<int> lanes, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<int>>(lanes.Where(l => _rows.Any(r => r.Lane == l && !_heldKeys.Contains(r.AggregateId))).ToList());

        public Task ListenAsync(Action<int> onLane, Action onConnected, CancellationToken cancellationToken) =>
            Task.Delay(Timeout.Infinite, cancellationToken);

        public Task<long> DeleteExpiredPublishedAsync(TimeSpan retention, CancellationToken cancellationToken) => Task.FromResult(0L);

        private bool Holds(string instanceId, LaneLease lease) =>
            _lanes.TryGetValue(lease.Lane, out var state) && state.Owner == instanceId && state.Epoch == lease.Epoch;
    }
}
