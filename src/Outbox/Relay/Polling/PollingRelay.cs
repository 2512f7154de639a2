using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Outbox.Relay;

/// <summary>
/// The polling relay of one instance: holds lane leases (<see cref="RunLeaseCycleAsync"/>, one heartbeat) and drains
/// its lanes in commit order (<see cref="DrainOnceAsync"/>, one batch of one lane). The hosted service runs these
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
    private long _published;
    private long _claims;
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
        ILogger<PollingRelay> logger,
        Func<double>? jitter = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(outboxOptions);
        _store = store;
        _publisher = publisher;
        _options = options;
        _laneCount = outboxOptions.LaneCount;
        _outboxOptions = outboxOptions;
        _timeProvider = timeProvider;
        _logger = logger;
        _jitter = jitter ?? Random.Shared.NextDouble;
        _leaseClock = new LeaseClock(timeProvider, options.LeaseDuration);

        // Lanes drain at the same time: each batch gets its share of the byte budget.
        _batchBytes = Math.Max(1, options.MaxBytesInFlight / options.MaxConcurrentLanes);
        Scheduler = new LaneScheduler(timeProvider);
        InstanceId = string.IsNullOrWhiteSpace(options.InstanceId) ? DefaultInstanceId() : options.InstanceId;
    }

    public string InstanceId { get; }

    public LaneScheduler Scheduler { get; }

    public PollingRelayOptions Options => _options;

    /// <summary>Gets whether the last heartbeat is recent enough for the leases to be trusted (owner or standby).</summary>
    internal bool HeartbeatValid => _leaseClock.IsValid;

    /// <summary>Gets the rows this instance published and removed (or marked) so far.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Gets how many keys this instance parked so far (an event failed for good: it and every later event of its key wait).</summary>
    public long Parked => Interlocked.Read(ref _parked);

    /// <summary>Gets how many claim queries this instance ran (a tight loop shows here first).</summary>
    public long Claims => Interlocked.Read(ref _claims);

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

        Log.Started(_logger, InstanceId, _laneCount, _options.BatchSize, _options.MaxConcurrentLanes);
        RelayTelemetry.Running(this);
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

    /// <summary>
    /// Drains one batch of a lane: reads the next rows in commit order, publishes them, waits for the acknowledgements,
    /// then removes the acknowledged prefix and records the failure of the row it stopped at, fenced by the lease.
    /// </summary>
    public async Task<DrainOutcome> DrainOnceAsync(LaneLease lease, CancellationToken cancellationToken)
    {
        if (!_leaseClock.IsValid)
        {
            // The last successful heartbeat is too old to be sure the lease holds: wait for the next one.
            return DrainOutcome.RetryLater(_options.HeartbeatInterval);
        }

        Interlocked.Increment(ref _claims);
        var startedAt = _timeProvider.GetTimestamp();
        var batch = await _store.ClaimAsync(lease.Lane, _options.BatchSize, _batchBytes, cancellationToken).ConfigureAwait(false);
        var messages = batch.Messages;
        if (messages.Count == 0)
        {
            return DrainOutcome.Idle();
        }

        // The claim may be long past (a GC pause, a SIGSTOP, a starved machine): if the lease may have expired meanwhile,
        // another instance may already have published newer events of these keys, and sending this batch now would put
        // stale copies behind them. Both checks are local: no round trip on the live path.
        if (!_leaseClock.IsValid || !Scheduler.Holds(lease))
        {
            Log.StaleBatchDropped(_logger, lease.Lane, lease.Epoch);
            return _leaseClock.IsValid ? DrainOutcome.LeaseLost : DrainOutcome.RetryLater(_options.HeartbeatInterval);
        }

        var results = await _publisher.PublishAsync(messages, cancellationToken).ConfigureAwait(false);

        // Per key: a row that failed holds back its key (it and every later row of the key wait, in order); every other
        // key's acknowledged rows are done.
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

        var policy = new KeyRetryPolicy(_options.MaxAttempts, _options.RetryBaseDelay, _options.RetryMaxDelay);
        var outcomes = await _store.CompleteAsync(InstanceId, lease, ids, (IReadOnlyList<Guid>?)retried ?? [], settlement.Failures, policy, cancellationToken).ConfigureAwait(false);
        if (outcomes is null)
        {
            Log.CompletionFenced(_logger, lease.Lane, lease.Epoch);
            return DrainOutcome.LeaseLost;
        }

        Interlocked.Add(ref _published, ids.Length);
        SettlementReport.Settled(RelayKind.Polling, messages, settlement, outcomes, _outboxOptions, _logger);
        RelayTelemetry.BatchDuration(RelayKind.Polling, _timeProvider.GetElapsedTime(startedAt));
        for (var i = 0; i < outcomes.Count; i++)
        {
            Interlocked.Increment(ref _failedAttempts);
            if (outcomes[i].Parked)
            {
                Interlocked.Increment(ref _parked);
            }
        }

        if (settlement.TransientError is { } transient)
        {
            // The broker or the network, not the records: the lane waits and tries again, nothing is counted.
            var streak = Interlocked.Increment(ref _transientStreak);
            var delay = RetryBackoff.Compute(Math.Min(streak, 30), _options.RetryBaseDelay, TransientRetryMaxDelay(_options), _jitter());
            SettlementLog.TransientFailure(_logger, "polling", settlement.TransientRows, delay, transient);
            return DrainOutcome.RetryLater(delay, ids.Length);
        }

        Interlocked.Exchange(ref _transientStreak, 0);
        if (settlement.Failures.Count > 0)
        {
            // The failed keys wait (the claim leaves them out now); the lane goes on with every other key at once.
            return DrainOutcome.More(ids.Length);
        }

        if (!settlement.Complete(messages.Count))
        {
            // Rows not attempted without a failure to say why (a publisher stopped early): try again shortly, never spin.
            return DrainOutcome.RetryLater(_options.RetryBaseDelay, ids.Length);
        }

        return messages.Count >= _options.BatchSize || batch.CutByBytes ? DrainOutcome.More(ids.Length) : DrainOutcome.Idle(ids.Length);
    }

    /// <summary>The longest wait between retries of a transient failure (the broker down): never longer than 30 seconds.</summary>
    internal static TimeSpan TransientRetryMaxDelay(PollingRelayOptions options) =>
        options.RetryMaxDelay < TimeSpan.FromSeconds(30) ? options.RetryMaxDelay : TimeSpan.FromSeconds(30);

    /// <summary>Gives every held lane back and leaves the live instances (graceful shutdown).</summary>
    public async Task ReleaseAllAsync(CancellationToken cancellationToken)
    {
        var leases = Scheduler.Leases();
        Scheduler.Clear();
        _leaseClock.Lost();
        RelayTelemetry.Stopped(this);
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
