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
    private long _deadLettered;
    private long _claims;
    private long _failedAttempts;

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

    /// <summary>Gets the rows this instance moved to the dead-letter table so far.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Gets how many claim queries this instance ran (a tight loop shows here first).</summary>
    public long Claims => Interlocked.Read(ref _claims);

    /// <summary>Gets how many publish attempts of single rows failed.</summary>
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
        var batch = await _store.ClaimAsync(lease.Lane, _options.BatchSize, cancellationToken).ConfigureAwait(false);
        var messages = batch.Messages;
        if (messages.Count == 0)
        {
            return DrainOutcome.Idle();
        }

        if (batch.HeadRetryIn > TimeSpan.Zero)
        {
            return DrainOutcome.RetryLater(batch.HeadRetryIn);
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
        var acknowledged = 0;
        while (acknowledged < messages.Count && results[acknowledged].Status == PublishStatus.Acknowledged)
        {
            acknowledged++;
        }

        RecordFailure? failure = null;
        if (acknowledged < messages.Count)
        {
            // The lane stops here: later rows, even if acknowledged, are sent again after this one (order first).
            var head = messages[acknowledged];
            var result = results[acknowledged];
            var attempts = head.Attempts + 1;
            var error = result.Error ?? (result.Status == PublishStatus.NotAttempted ? "The record was not attempted." : "The record failed.");
            var deadLetter = attempts >= _options.MaxAttempts;
            var delay = deadLetter ? TimeSpan.Zero : RetryBackoff.Compute(attempts, _options.RetryBaseDelay, _options.RetryMaxDelay, _jitter());
            failure = new RecordFailure(head.Id, attempts, error, delay, deadLetter);
            Interlocked.Increment(ref _failedAttempts);
        }

        var ids = new Guid[acknowledged];
        for (var i = 0; i < acknowledged; i++)
        {
            ids[i] = messages[i].Id;
        }

        if (!await _store.CompleteAsync(InstanceId, lease, ids, failure, cancellationToken).ConfigureAwait(false))
        {
            Log.CompletionFenced(_logger, lease.Lane, lease.Epoch);
            return DrainOutcome.LeaseLost;
        }

        Interlocked.Add(ref _published, acknowledged);
        RelayTelemetry.Batch(messages, acknowledged, failure is not null, failure?.DeadLetter == true, _outboxOptions, _timeProvider.GetElapsedTime(startedAt));
        if (failure is null)
        {
            return messages.Count >= _options.BatchSize ? DrainOutcome.More(acknowledged) : DrainOutcome.Idle(acknowledged);
        }

        if (failure.DeadLetter)
        {
            Interlocked.Increment(ref _deadLettered);
            Log.DeadLettered(_logger, failure.Id, lease.Lane, failure.Attempts, failure.Error);
            return DrainOutcome.More(acknowledged);
        }

        Log.PublishFailed(_logger, failure.Id, lease.Lane, failure.Attempts, _options.MaxAttempts, failure.RetryDelay, failure.Error);
        return DrainOutcome.RetryLater(failure.RetryDelay, acknowledged);
    }

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
