using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Outbox.Relay;

/// <summary>
/// Runs a <see cref="PollingRelay"/>: the heartbeat, the notification listener, the fallback poll, the lane workers
/// and (in retention mode) the cleanup of published rows. Stopping lets batches in flight finish while the host
/// allows it, then gives every lane back.
/// </summary>
/// <param name="relay">The relay whose iterations the loops run.</param>
/// <param name="store">Its store (the listener and the cleanup).</param>
/// <param name="timeProvider">The clock of the delays.</param>
/// <param name="logger">Logs the loops' failures.</param>
/// <param name="listen">Whether to listen for new rows (<c>LISTEN</c>, one connection held); without it the relay finds
/// them by the poll (a fleet over many databases listens to a few only).</param>
/// <param name="pollInterval">How often the poll runs; <see langword="null"/> for <see cref="PollingRelayOptions.PollInterval"/>.
/// <see cref="PollNow"/> runs it at once.</param>
/// <param name="drainGate">Shared by the relays of a fleet over many databases: each drain cycle runs in one of its slots
/// (<see cref="OutboxDatabasesOptions.MaxConcurrentDrainCycles"/>); <see langword="null"/>: no bound across relays.</param>
internal sealed class PollingRelayHostedService(
    PollingRelay relay,
    IPollingRelayStore store,
    TimeProvider timeProvider,
    ILogger<PollingRelayHostedService> logger,
    bool listen = true,
    TimeSpan? pollInterval = null,
    SemaphoreSlim? drainGate = null) : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan s_maxErrorDelay = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _pollNow = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _abort = new();
    private readonly List<Task> _loops = [];
    private readonly List<Task> _workers = [];
    private int _stopped;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var options = relay.Options;
        _loops.Add(Task.Run(() => LeaseLoopAsync(_stopping.Token), CancellationToken.None));
        if (listen)
        {
            _loops.Add(Task.Run(() => ListenLoopAsync(_stopping.Token), CancellationToken.None));
        }

        _loops.Add(Task.Run(() => PollLoopAsync(_stopping.Token), CancellationToken.None));
        if (options.PublishedRetention is { } retention)
        {
            _loops.Add(Task.Run(() => CleanupLoopAsync(retention, _stopping.Token), CancellationToken.None));
        }

        for (var i = 0; i < DrainCycles(options); i++)
        {
            _workers.Add(Task.Run(() => WorkerLoopAsync(_stopping.Token, _abort.Token), CancellationToken.None));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        // No new batches; the ones in flight finish unless the host runs out of patience.
        relay.Scheduler.Complete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        using (cancellationToken.Register(() => _abort.Cancel()))
        {
            await Task.WhenAll(_loops.Concat(_workers)).ConfigureAwait(false);
        }

        try
        {
            await relay.ReleaseAllAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The leases expire on their own; other instances take the lanes over then.
            Log.LoopFailed(logger, "release", TimeSpan.Zero, ex);
        }
    }

    public ValueTask DisposeAsync()
    {
        _stopping.Dispose();
        _abort.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task LeaseLoopAsync(CancellationToken cancellationToken)
    {
        var prepared = false;
        var errorDelay = relay.Options.HeartbeatInterval;
        while (!cancellationToken.IsCancellationRequested)
        {
            var delay = relay.Options.HeartbeatInterval;
            try
            {
                if (!prepared)
                {
                    await relay.PrepareAsync(cancellationToken).ConfigureAwait(false);
                    prepared = true;
                }

                await relay.RunLeaseCycleAsync(cancellationToken).ConfigureAwait(false);
                errorDelay = relay.Options.HeartbeatInterval;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Retry sooner than a heartbeat while the lease may still be saved, but never in a tight loop.
                delay = Min(errorDelay, relay.Options.HeartbeatInterval);
                Log.LoopFailed(logger, "heartbeat", delay, ex);
            }

            if (!await DelayAsync(delay, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private async Task ListenLoopAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await store.ListenAsync(relay.Scheduler.Signal, () => relay.Scheduler.SignalAll(), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.LoopFailed(logger, "listen", delay, ex);
                if (!await DelayAsync(delay, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                delay = Min(delay * 2, s_maxErrorDelay);
                continue;
            }

            delay = TimeSpan.FromMilliseconds(100);
        }
    }

    /// <summary>Runs the poll now instead of at its next interval (a fleet's activity watch saw new rows in the database).</summary>
    public void PollNow() => Volatile.Read(ref _pollNow).TrySetResult();

    private async Task PollLoopAsync(CancellationToken cancellationToken)
    {
        var interval = pollInterval ?? relay.Options.PollInterval;
        while (await WaitForPollAsync(interval, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await relay.PollOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.LoopFailed(logger, "poll", relay.Options.PollInterval, ex);
            }
        }
    }

    private async Task CleanupLoopAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        while (await DelayAsync(relay.Options.CleanupInterval, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var deleted = await store.DeleteExpiredPublishedAsync(retention, cancellationToken).ConfigureAwait(false);
                Log.CleanedUp(logger, deleted);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.LoopFailed(logger, "cleanup", relay.Options.CleanupInterval, ex);
            }
        }
    }

    /// <summary>
    /// How many drain cycles run at once: two, so that one claims and settles while the other waits for Kafka. Each
    /// cycle takes every lane queued when it starts (up to its share of <see cref="PollingRelayOptions.MaxConcurrentLanes"/>),
    /// so under load one claim and one completion serve many lanes' events instead of one each.
    /// </summary>
    internal static int DrainCycles(PollingRelayOptions options) => Math.Min(2, options.MaxConcurrentLanes);

    /// <summary>The most lanes one drain cycle takes: its share of <see cref="PollingRelayOptions.MaxConcurrentLanes"/>.</summary>
    internal static int LanesPerCycle(PollingRelayOptions options) => (options.MaxConcurrentLanes + DrainCycles(options) - 1) / DrainCycles(options);

    /// <param name="stopping">Stops taking lanes (graceful stop: the cycle in flight finishes).</param>
    /// <param name="cancellationToken">Abandons the cycle in flight (the host ran out of shutdown time).</param>
    private async Task WorkerLoopAsync(CancellationToken stopping, CancellationToken cancellationToken)
    {
        var errorDelays = new Dictionary<int, TimeSpan>();
        var lanesPerCycle = LanesPerCycle(relay.Options);
        while (true)
        {
            IReadOnlyList<LaneLease> leases;
            try
            {
                leases = await relay.Scheduler.TakeManyAsync(lanesPerCycle, relay.Options.Linger, stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
            {
                return;
            }

            DrainOutcome[] outcomes;
            var gated = false;
            try
            {
                if (drainGate is not null)
                {
                    await drainGate.WaitAsync(cancellationToken).ConfigureAwait(false);
                    gated = true;
                }

                outcomes = await relay.DrainOnceAsync(leases, cancellationToken).ConfigureAwait(false);
                foreach (var lease in leases)
                {
                    errorDelays.Remove(lease.Lane);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                foreach (var lease in leases)
                {
                    relay.Scheduler.Finished(lease, DrainOutcome.Idle());
                }

                return;
            }
            catch (Exception ex)
            {
                // Database or broker trouble: the lanes wait (longer each time) instead of spinning.
                outcomes = new DrainOutcome[leases.Count];
                for (var i = 0; i < leases.Count; i++)
                {
                    var lane = leases[i].Lane;
                    var delay = errorDelays.TryGetValue(lane, out var previous) ? Min(previous * 2, s_maxErrorDelay) : relay.Options.PollInterval;
                    errorDelays[lane] = delay;
                    outcomes[i] = DrainOutcome.RetryLater(delay);
                }

                Log.DrainFailed(logger, string.Join(",", leases.Select(l => l.Lane)), outcomes[0].Delay, ex);
            }
            finally
            {
                if (gated)
                {
                    drainGate!.Release();
                }
            }

            for (var i = 0; i < leases.Count; i++)
            {
                relay.Scheduler.Finished(leases[i], outcomes[i]);
            }
        }
    }

    private async Task<bool> WaitForPollAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        var now = Volatile.Read(ref _pollNow);
        using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await Task.WhenAny(Task.Delay(interval, timeProvider, delay.Token), now.Task).ConfigureAwait(false);
        await delay.CancelAsync().ConfigureAwait(false);
        if (now.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _pollNow, new(TaskCreationOptions.RunContinuationsAsynchronously), now);
        }

        return !cancellationToken.IsCancellationRequested;
    }

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, timeProvider, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
