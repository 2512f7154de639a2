using System.Globalization;
using Microsoft.Extensions.Logging;
using Outbox.Providers;

namespace Outbox.Relay;

/// <summary>
/// The polling relay of one instance: holds lane leases (<see cref="RunLeaseCycleAsync"/>, one heartbeat) and drains
/// its lanes in commit order (<see cref="DrainOnceAsync(IReadOnlyList{LaneLease}, CancellationToken)"/>, one drain cycle over one or more lanes). The hosted service runs these
/// iterations in loops; tests call them directly.
/// </summary>
internal sealed class PollingRelay
{
    private readonly IPollingRelayStore _store;
    private readonly IOutboxPublisher _publisher;
    private readonly PollingRelayOptions _options;
    private readonly int _laneCount;
    private readonly ILogger _logger;
    private readonly Func<double> _jitter;
    private readonly LeaseClock _leaseClock;
    private readonly OutboxOptions _outboxOptions;
    private readonly TimeProvider _timeProvider;
    private readonly RelayTelemetry _telemetry;
    private long _published;
    private long _claims;
    private long _claimedLanes;
    private long _failedAttempts;
    private readonly long _batchBytes;
    private long _parked;
    private int _transientStreak;

    public PollingRelay(
        IPollingRelayStore store,
        IOutboxPublisher publisher,
        PollingRelayOptions options,
        OutboxOptions outboxOptions,
        TimeProvider timeProvider,
        RelayTelemetry telemetry,
        ILogger<PollingRelay> logger,
        Func<double>? jitter = null,
        string? database = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(outboxOptions);
        _store = store;
        _publisher = publisher;
        _options = options;
        _laneCount = outboxOptions.LaneCount;
        _outboxOptions = outboxOptions;
        _timeProvider = timeProvider;
        _telemetry = telemetry;
        _logger = logger;
        _jitter = jitter ?? Random.Shared.NextDouble;
        _leaseClock = new LeaseClock(timeProvider, options.LeaseDuration);
        Database = database;

        // Lanes drain at the same time: each batch gets its share of the byte budget.
        _batchBytes = Math.Max(1, options.MaxBytesInFlight / options.MaxConcurrentLanes);
        Scheduler = new LaneScheduler(timeProvider);
        InstanceId = string.IsNullOrWhiteSpace(options.InstanceId) ? DefaultInstanceId() : options.InstanceId;
    }

    public string InstanceId { get; }

    /// <summary>Gets the database's name when this relay is one of a fleet's (<c>UsePostgreSqlDatabases</c>); <see langword="null"/> otherwise.</summary>
    public string? Database { get; }

    public LaneScheduler Scheduler { get; }

    public PollingRelayOptions Options => _options;

    /// <summary>Gets whether the last heartbeat is recent enough for the leases to be trusted (owner or standby).</summary>
    internal bool HeartbeatValid => _leaseClock.IsValid;

    /// <summary>Gets the rows this instance published and removed (or marked) so far.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Gets how many keys this instance parked so far (an event failed for good: it and every later event of its key wait).</summary>
    public long Parked => Interlocked.Read(ref _parked);

    /// <summary>Gets how many claim queries this instance ran, one per drain cycle (a tight loop shows here first).</summary>
    public long Claims => Interlocked.Read(ref _claims);

    /// <summary>Gets how many lanes the claim queries looked at in all (a cycle claims several lanes at once).</summary>
    public long ClaimedLanes => Interlocked.Read(ref _claimedLanes);

    /// <summary>Gets how many publish attempts of single rows failed in a way that counts against the record.</summary>
    public long FailedAttempts => Interlocked.Read(ref _failedAttempts);

    /// <summary>Creates the lane rows and warns about rows in lanes nobody drains.</summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        var orphans = await _store.PrepareAsync(_laneCount, cancellationToken).ConfigureAwait(false);
        if (orphans.Count > 0)
        {
            Log.OrphanLanes(_logger, Format(orphans), _laneCount);
        }

        Log.Started(_logger, InstanceId, _laneCount, _options.MaxBatchSize, _options.MaxConcurrentLanes);
        _telemetry.Running(this);
    }

    /// <summary>
    /// One heartbeat: renews the held leases, drops the ones taken over, then gives back lanes above this instance's
    /// even share or acquires free and expired lanes up to it.
    /// </summary>
    public async Task RunLeaseCycleAsync(CancellationToken cancellationToken)
    {
        var sentAt = _leaseClock.Now();
        var wasValid = _leaseClock.IsValid;
        var mine = Scheduler.Leases();
        LeaseRenewal renewal;
        try
        {
            renewal = await _store.RenewAsync(InstanceId, mine, _options.LeaseDuration, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (!_leaseClock.IsValid && Scheduler.Count > 0)
            {
                // Cannot prove the leases still hold: stop draining until a heartbeat acquires lanes again.
                Log.LeasesLost(_logger, InstanceId, Format(mine.Select(l => l.Lane)));
                Scheduler.Clear();
            }

            throw;
        }

        var held = renewal.Held.Select(l => l.Lane).ToHashSet();
        var lost = mine.Where(l => !renewal.Held.Contains(l)).Select(l => l.Lane).ToList();
        foreach (var lane in lost)
        {
            Scheduler.Remove(lane);
        }

        // Only now: a drain that checks the clock and its lease before publishing must never see a fresh clock together
        // with a lane this renewal just found lost.
        _leaseClock.Renewed(sentAt);

        if (lost.Count > 0)
        {
            Log.LeasesLost(_logger, InstanceId, Format(lost));
        }

        foreach (var lease in renewal.Held)
        {
            if (!Scheduler.Holds(lease.Lane))
            {
                // A drain saw this lease expired and dropped it, but nobody took it over and it is renewed now.
                Scheduler.Add(lease);
            }
        }

        if (!wasValid)
        {
            // Drains were skipped while the leases could not be proven: look at every lane again.
            Scheduler.SignalAll();
        }

        var share = LaneShare.Compute(_laneCount, renewal.LiveInstances);
        if (held.Count > share)
        {
            var release = new List<LaneLease>();
            foreach (var lane in Scheduler.DetachCandidates())
            {
                if (held.Count - release.Count <= share)
                {
                    break;
                }

                if (Scheduler.TryDetach(lane, out var lease))
                {
                    release.Add(lease);
                }
            }

            if (release.Count > 0)
            {
                await _store.ReleaseAsync(InstanceId, release, cancellationToken).ConfigureAwait(false);
                Log.Released(_logger, InstanceId, Format(release.Select(l => l.Lane)), share, renewal.LiveInstances);
            }
        }
        else if (held.Count < share)
        {
            var acquired = await _store.AcquireAsync(InstanceId, share - held.Count, _laneCount, held, _options.LeaseDuration, cancellationToken).ConfigureAwait(false);
            foreach (var lease in acquired)
            {
                Scheduler.Add(lease);
            }

            if (acquired.Count > 0)
            {
                Log.Acquired(_logger, InstanceId, Format(acquired.Select(l => l.Lane)), held.Count + acquired.Count, share, renewal.LiveInstances);
            }
        }
    }

    /// <summary>Queues the held lanes that have rows (the fallback when notifications are missed).</summary>
    public async Task PollOnceAsync(CancellationToken cancellationToken)
    {
        var lanes = Scheduler.Leases().Select(l => l.Lane).ToList();
        if (lanes.Count == 0)
        {
            return;
        }

        foreach (var lane in await _store.FindReadyLanesAsync(lanes, cancellationToken).ConfigureAwait(false))
        {
            Scheduler.Signal(lane);
        }
    }

    /// <summary>Drains one batch of one lane (<see cref="DrainOnceAsync(IReadOnlyList{LaneLease}, CancellationToken)"/> with one lease).</summary>
    public async Task<DrainOutcome> DrainOnceAsync(LaneLease lease, CancellationToken cancellationToken) =>
        (await DrainOnceAsync([lease], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>
    /// One drain cycle over several lanes: reads each lane's next rows in commit order (one query), publishes them
    /// together, waits for the acknowledgements, then in one transaction removes each lane's acknowledged rows and
    /// records the failures of the keys that stopped, fenced lane by lane by its lease.
    /// </summary>
    /// <returns>The outcome of each lane, in the order of <paramref name="leases"/>.</returns>
    public async Task<DrainOutcome[]> DrainOnceAsync(IReadOnlyList<LaneLease> leases, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(leases);
        var outcomes = new DrainOutcome[leases.Count];
        if (!_leaseClock.IsValid)
        {
            // The last successful heartbeat is too old to be sure the leases hold: wait for the next one.
            Array.Fill(outcomes, DrainOutcome.RetryLater(_options.HeartbeatInterval));
            return outcomes;
        }

        Interlocked.Increment(ref _claims);
        Interlocked.Add(ref _claimedLanes, leases.Count);
        var startedAt = _timeProvider.GetTimestamp();
        var lanes = new int[leases.Count];
        for (var i = 0; i < leases.Count; i++)
        {
            lanes[i] = leases[i].Lane;
        }

        var batches = await _store.ClaimAsync(lanes, _options.MaxBatchSize, _batchBytes, cancellationToken).ConfigureAwait(false);

        // The claim may be long past (a GC pause, a SIGSTOP, a starved machine): if a lease may have expired meanwhile,
        // another instance may already have published newer events of these keys, and sending this batch now would put
        // stale copies behind them. Both checks are local: no round trip on the live path.
        var messages = new List<OutboxRecord>();
        var active = new List<LaneLease>(leases.Count);
        var slots = new int[leases.Count];
        var clockValid = _leaseClock.IsValid;
        for (var i = 0; i < leases.Count; i++)
        {
            slots[i] = -1;
            if (batches[i].Messages.Count == 0)
            {
                outcomes[i] = DrainOutcome.Idle();
            }
            else if (!clockValid || !Scheduler.Holds(leases[i]))
            {
                Log.StaleBatchDropped(_logger, leases[i].Lane, leases[i].Epoch);
                outcomes[i] = clockValid ? DrainOutcome.LeaseLost : DrainOutcome.RetryLater(_options.HeartbeatInterval);
            }
            else
            {
                slots[i] = active.Count;
                active.Add(leases[i]);
                messages.AddRange(batches[i].Messages);
            }
        }

        if (active.Count == 0)
        {
            return outcomes;
        }

        var results = await _publisher.PublishAsync(messages, cancellationToken).ConfigureAwait(false);

        // Per key: a row that failed holds back its key (it and every later row of the key wait, in order); every other
        // key's acknowledged rows are done. A key lives in one lane, so lanes never hold back each other.
        var settlement = BatchSettlement.Settle(messages, results);
        var done = settlement.Done;
        var ids = new Guid[done.Count];
        List<Guid>? retried = null;
        for (var i = 0; i < done.Count; i++)
        {
            var message = messages[done[i]];
            ids[i] = message.Id;
            if (message.Attempts > 0)
            {
                (retried ??= []).Add(message.Id);
            }
        }

        var policy = new KeyRetryPolicy(_options.MaxAttempts, _options.InitialRetryDelay, _options.MaxRetryDelay);
        var completion = await _store.CompleteAsync(InstanceId, active, ids, (IReadOnlyList<Guid>?)retried ?? [], settlement.Failures, policy, cancellationToken).ConfigureAwait(false);
        var held = completion.HeldLanes;
        var failureOutcomes = new List<KeyFailureOutcome>(settlement.Failures.Count);
        var recorded = new HashSet<int>();
        for (var i = 0; i < settlement.Failures.Count; i++)
        {
            if (held.Contains(settlement.Failures[i].Message.Lane) && completion.Outcomes[i] is { } outcome)
            {
                recorded.Add(settlement.Failures[i].Index);
                failureOutcomes.Add(outcome);
                Interlocked.Increment(ref _failedAttempts);
                if (outcome.Parked)
                {
                    Interlocked.Increment(ref _parked);
                }
            }
        }

        if (held.Count < active.Count || recorded.Count < settlement.Failures.Count)
        {
            // Lanes whose lease did not hold changed nothing: report only the others.
            foreach (var lease in active.Where(l => !held.Contains(l.Lane)))
            {
                Log.CompletionFenced(_logger, lease.Lane, lease.Epoch);
            }

            var failed = settlement.Failures.Select(f => f.Index).ToHashSet();
            settlement = settlement.Restrict(index => held.Contains(messages[index].Lane) && (!failed.Contains(index) || recorded.Contains(index)));
        }

        var published = settlement.Done.Count;
        Interlocked.Add(ref _published, published);
        SettlementReport.Settled(RelayKind.Polling, messages, settlement, failureOutcomes, _outboxOptions, _telemetry, _logger, Database);
        _telemetry.BatchDuration(RelayKind.Polling, _timeProvider.GetElapsedTime(startedAt), Database);

        // Per lane: what was done, what failed, what was left.
        var laneDone = new Dictionary<int, int>();
        foreach (var index in settlement.Done)
        {
            laneDone[messages[index].Lane] = laneDone.GetValueOrDefault(messages[index].Lane) + 1;
        }

        var laneFailed = settlement.Failures.Select(f => f.Message.Lane).ToHashSet();
        TimeSpan? transientDelay = null;
        if (settlement.TransientError is { } transient)
        {
            // The broker or the network, not the records: the lanes wait and try again, nothing is counted.
            var streak = Interlocked.Increment(ref _transientStreak);
            transientDelay = RetryBackoff.Compute(Math.Min(streak, 30), _options.InitialRetryDelay, TransientRetryMaxDelay(_options), _jitter());
            SettlementLog.TransientFailure(_logger, "polling", settlement.TransientRows, transientDelay.Value, transient);
        }
        else
        {
            Interlocked.Exchange(ref _transientStreak, 0);
        }

        for (var i = 0; i < leases.Count; i++)
        {
            if (slots[i] < 0)
            {
                continue;
            }

            var lane = leases[i].Lane;
            var batch = batches[i];
            var laneIds = laneDone.GetValueOrDefault(lane);
            outcomes[i] = !held.Contains(lane) ? DrainOutcome.LeaseLost
                : transientDelay is { } delay ? DrainOutcome.RetryLater(delay, laneIds)

                // The failed keys wait (the claim leaves them out now); the lane goes on with every other key at once.
                : laneFailed.Contains(lane) ? DrainOutcome.More(laneIds)

                // Rows not attempted without a failure to say why (a publisher stopped early): try again shortly, never spin.
                : laneIds < batch.Messages.Count ? DrainOutcome.RetryLater(_options.InitialRetryDelay, laneIds)
                : batch.Messages.Count >= _options.MaxBatchSize || batch.CutByBytes ? DrainOutcome.More(laneIds)
                : DrainOutcome.Idle(laneIds);
        }

        return outcomes;
    }

    /// <summary>The longest wait between retries of a transient failure (the broker down): never longer than 30 seconds.</summary>
    internal static TimeSpan TransientRetryMaxDelay(PollingRelayOptions options) =>
        options.MaxRetryDelay < TimeSpan.FromSeconds(30) ? options.MaxRetryDelay : TimeSpan.FromSeconds(30);

    /// <summary>Gives every held lane back and leaves the live instances (graceful shutdown).</summary>
    public async Task ReleaseAllAsync(CancellationToken cancellationToken)
    {
        var leases = Scheduler.Leases();
        Scheduler.Clear();
        _leaseClock.Lost();
        _telemetry.Stopped(this);
        if (leases.Count > 0)
        {
            await _store.ReleaseAsync(InstanceId, leases, cancellationToken).ConfigureAwait(false);
        }

        await _store.LeaveAsync(InstanceId, cancellationToken).ConfigureAwait(false);
        Log.Stopped(_logger, InstanceId, leases.Count);
    }

    private static string DefaultInstanceId() =>
        string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");

    private static string Format(IEnumerable<int> lanes) => string.Join(",", lanes.Order());
}
