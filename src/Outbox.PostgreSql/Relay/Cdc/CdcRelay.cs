using Microsoft.Extensions.Logging;
using Npgsql;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// The CDC relay's engine, built by the container (<c>AddCdcRelay()</c>): checks the server at start (a bad setting
/// fails the host with a message that names it), and runs one iteration at a time: set up the publication and slot,
/// publish the backlog, stream (<see cref="ICdcReplication"/>). Its decisions are here: a standby waits while another
/// instance streams; a lost slot faults the relay until an operator acts; other failures are retried with backoff from
/// the last confirmed position, afresh after an iteration that published something.
/// <see cref="CdcRelayService"/> is the hosted service that runs it.
/// </summary>
internal sealed class CdcRelay
{
    private readonly ICdcReplication _replication;
    private readonly CdcRelayOptions _options;
    private readonly CdcRelayMonitor _monitor;
    private readonly ILogger _logger;
    private readonly Func<bool>? _mayAcquire;
    private int _consecutiveFailures;

    /// <summary>Initializes a new instance of the <see cref="CdcRelay"/> class.</summary>
    /// <param name="replication">Sets up and streams.</param>
    /// <param name="options">The relay's options.</param>
    /// <param name="monitor">What the relay reports about itself.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="mayAcquire">In a fleet of many databases: asked before each attempt to take the slot; <see langword="false"/>
    /// leaves it to another instance of the fleet for now (the relay stands by).</param>
    public CdcRelay(ICdcReplication replication, CdcRelayOptions options, CdcRelayMonitor monitor, ILogger logger, Func<bool>? mayAcquire = null)
    {
        _mayAcquire = mayAcquire;
        _replication = replication;
        _options = options;
        _monitor = monitor;
        _logger = logger;
    }

    /// <summary>Gets the relay's options.</summary>
    public CdcRelayOptions Options => _options;

    /// <summary>Gets what the relay reports about itself.</summary>
    public CdcRelayMonitor Monitor => _monitor;

    /// <summary>Gets the progress of the current (or last) replication session, for diagnostics.</summary>
    internal CdcProgress? SessionProgress => _replication.SessionProgress;

    /// <summary>Gets the payload bytes the current (or last) session holds decoded and not settled, now and at most, for diagnostics.</summary>
    internal (long Now, long Peak)? SessionBytesInFlight => _replication.SessionBytesInFlight;

    /// <summary>
    /// The checks at host start: the server's settings, the publication and the slot. A bad setting throws (and the host
    /// fails to start); a lost slot faults the relay without failing the host; an unreachable server defers the checks
    /// to the first iteration.
    /// </summary>
    /// <exception cref="OutboxConfigurationException">The server cannot run the relay; the message names the setting.</exception>
    public async Task CheckAtStartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _replication.CheckAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OutboxConfigurationException ex)
        {
            _monitor.Set(CdcRelayState.Faulted, ex.Message);
            Log.Faulted(_logger, ex.Message);
            throw;
        }
        catch (CdcSlotLostException ex)
        {
            // Not a configuration error: the host runs, reports unhealthy, and the relay waits for the operator.
            _monitor.Set(CdcRelayState.Faulted, ex.Message);
            Log.Faulted(_logger, ex.Message);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            Log.StartupCheckDeferred(_logger, ex);
        }
    }

    /// <summary>One iteration: set up and stream until stopped or failed; returns how long to wait before the next one.</summary>
    internal async Task<TimeSpan> RunOnceAsync(CancellationToken stoppingToken)
    {
        if (_mayAcquire is not null && !_mayAcquire())
        {
            const string Reason = "Another instance of the fleet streams fewer slots on this server: the slot is left to it for now.";
            if (_monitor.State != CdcRelayState.Standby)
            {
                Log.Standby(_logger, _options.SlotName, Reason);
            }

            _monitor.Set(CdcRelayState.Standby, Reason);
            _consecutiveFailures = 0;
            return _options.StandbyPollInterval;
        }

        try
        {
            await _replication.SetUpAndStreamAsync(() => _monitor.Set(CdcRelayState.Streaming), stoppingToken).ConfigureAwait(false);
            return TimeSpan.Zero;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return TimeSpan.Zero;
        }
        catch (CdcSlotBusyException ex)
        {
            if (_monitor.State != CdcRelayState.Standby)
            {
                Log.Standby(_logger, _options.SlotName, ex.Message);
            }

            _monitor.Set(CdcRelayState.Standby, ex.Message);
            _consecutiveFailures = 0;
            return _options.StandbyPollInterval;
        }
        catch (Exception ex) when (ex is CdcSlotLostException or OutboxConfigurationException)
        {
            if (_monitor.State != CdcRelayState.Faulted)
            {
                Log.Faulted(_logger, ex.Message);
            }

            _monitor.Set(CdcRelayState.Faulted, ex.Message);
            return NextDelay();
        }
        catch (Exception ex)
        {
            // A broken stream may be the server invalidating the slot: that is a fault, not a retry.
            if (await _replication.LostSlotAsync(stoppingToken).ConfigureAwait(false) is { } lost)
            {
                Log.Faulted(_logger, lost);
                _monitor.Set(CdcRelayState.Faulted, lost);
                return NextDelay();
            }

            var delay = NextDelay();
            _monitor.Set(CdcRelayState.Retrying, ex.Message);
            Log.Retrying(_logger, delay, ex);
            return delay;
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is NpgsqlException { IsTransient: true } or TimeoutException
        || (ex is NpgsqlException and not PostgresException)
        || ex is PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown };

    /// <summary>The backoff after one more failure; an iteration that published something starts it afresh.</summary>
    private TimeSpan NextDelay()
    {
        if (_replication.MadeProgress)
        {
            _consecutiveFailures = 0;
        }

        var failures = Math.Min(++_consecutiveFailures, 30);
        return RetryBackoff.Delay(failures, _options.InitialRetryDelay, _options.MaxRetryDelay);
    }
}
