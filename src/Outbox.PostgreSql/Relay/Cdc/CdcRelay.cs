using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using Npgsql;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// The CDC relay's engine, built by the container (<c>AddCdcRelay()</c>): checks the server at start (a bad setting
/// fails the host with a message that names it), and runs one iteration at a time: set up the publication and slot,
/// publish the backlog, stream. A standby waits while another instance streams; a lost slot faults the relay until an
/// operator acts; other failures are retried with backoff from the last confirmed position.
/// <see cref="CdcRelayService"/> is the hosted service that runs it.
/// </summary>
internal sealed class CdcRelay
{
    private readonly CdcStore _store;
    private readonly CdcSlotManager _slots;
    private readonly CdcAcknowledger _acknowledger;
    private readonly ParkingStore _parking;
    private readonly IOutboxPublisher _publisher;
    private readonly OutboxOptions _outboxOptions;
    private readonly CdcRelayOptions _options;
    private readonly string _connectionString;
    private readonly CdcRelayMonitor _monitor;
    private readonly TimeProvider _timeProvider;
    private readonly RelayTelemetry _telemetry;
    private readonly ILogger _logger;
    private int _consecutiveFailures;
    private CdcStreamSession? _session;

    /// <summary>Initializes a new instance of the <see cref="CdcRelay"/> class; <paramref name="replicationConnectionString"/>
    /// is the connection string the replication connection opens.</summary>
    public CdcRelay(
        CdcStore store,
        CdcSlotManager slots,
        CdcAcknowledger acknowledger,
        ParkingStore parking,
        IOutboxPublisher publisher,
        OutboxOptions outboxOptions,
        CdcRelayOptions options,
        string replicationConnectionString,
        CdcRelayMonitor monitor,
        TimeProvider timeProvider,
        RelayTelemetry telemetry,
        ILogger logger)
    {
        _store = store;
        _slots = slots;
        _acknowledger = acknowledger;
        _parking = parking;
        _publisher = publisher;
        _outboxOptions = outboxOptions;
        _options = options;
        _connectionString = replicationConnectionString;
        _monitor = monitor;
        _timeProvider = timeProvider;
        _telemetry = telemetry;
        _logger = logger;
    }

    /// <summary>Gets the relay's options.</summary>
    public CdcRelayOptions Options => _options;

    /// <summary>Gets what the relay reports about itself.</summary>
    public CdcRelayMonitor Monitor => _monitor;

    /// <summary>Gets the progress of the current (or last) replication session, for diagnostics.</summary>
    internal CdcProgress? SessionProgress => Volatile.Read(ref _session)?.Progress;

    /// <summary>Gets the payload bytes the current (or last) session holds decoded and not settled, now and at most, for diagnostics.</summary>
    internal (long Now, long Peak)? SessionBytesInFlight => Volatile.Read(ref _session)?.BytesInFlight;

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
            var facts = await _slots.CheckServerAsync(cancellationToken).ConfigureAwait(false);
            await EnsurePublicationAsync(cancellationToken).ConfigureAwait(false);
            _slots.CheckSlot(await _store.ReadSlotAsync(cancellationToken).ConfigureAwait(false), facts.Database);
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
        try
        {
            await SetUpAndStreamAsync(stoppingToken).ConfigureAwait(false);
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
            if (await IsSlotLostAsync(stoppingToken).ConfigureAwait(false) is { } lost)
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

    private async Task EnsurePublicationAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _slots.EnsurePublicationAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            var names = _store.Names;
            throw new OutboxConfigurationException(
                $"The CDC relay could not create publication '{names.PublicationName}' (CdcRelayOptions.PublicationName): {ex.MessageText}. " +
                $"Creating a publication needs ownership of {names.Tables.Messages}; create it once as the owner: " +
                $"CREATE PUBLICATION {names.QuotedPublication} FOR TABLE {names.Tables.Messages} WITH (publish = 'insert');");
        }
    }

    private async Task SetUpAndStreamAsync(CancellationToken stoppingToken)
    {
        var store = _store;
        var slots = _slots;
        var facts = await slots.CheckServerAsync(stoppingToken).ConfigureAwait(false);
        await EnsurePublicationAsync(stoppingToken).ConfigureAwait(false);

        var slot = await store.ReadSlotAsync(stoppingToken).ConfigureAwait(false);
        slots.CheckSlot(slot, facts.Database);
        if (slot is { Exists: true, IsActive: true })
        {
            throw new CdcSlotBusyException($"Replication slot '{slot.SlotName}' is streamed by server process {slot.ActivePid}.");
        }

        // The stream is only ever cancelled to be thrown away: break the connection at once rather than wait for
        // the server to answer a cancel request it ignores while streaming.
        var replicationConnectionString = new NpgsqlConnectionStringBuilder(_connectionString) { CancellationTimeout = -1 }.ConnectionString;
        var replication = new LogicalReplicationConnection(replicationConnectionString)
        {
            WalReceiverTimeout = _options.ReplicationTimeout,
        };
        await using (replication.ConfigureAwait(false))
        {
            var setupLock = await store.TryLockSetupAsync(stoppingToken).ConfigureAwait(false)
                            ?? throw new CdcSlotBusyException($"Another relay is setting up replication slot '{store.Names.SlotName}'.");
            try
            {
                await replication.Open(stoppingToken).ConfigureAwait(false);
                await slots.EnsureSlotAsync(replication, facts.Database, stoppingToken).ConfigureAwait(false);
                await DrainBacklogAsync(stoppingToken).ConfigureAwait(false);
            }
            finally
            {
                await store.UnlockSetupAsync(setupLock).ConfigureAwait(false);
            }

            using var session = new CdcStreamSession(replication, store, _publisher, _acknowledger, _parking, _outboxOptions, _options, _timeProvider, _telemetry, _logger);
            Volatile.Write(ref _session, session);
            _monitor.Set(CdcRelayState.Streaming);
            Log.Streaming(_logger, store.Names.SlotName, store.Names.PublicationName);
            try
            {
                await session.RunAsync(stoppingToken).ConfigureAwait(false);
                Log.Stopped(_logger, store.Names.SlotName, new NpgsqlTypes.NpgsqlLogSequenceNumber(session.Progress.Confirmed).ToString());
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ObjectInUse)
            {
                throw new CdcSlotBusyException($"Replication slot '{store.Names.SlotName}' is streamed by another relay.", ex);
            }
            finally
            {
                if (session.Progress.Acknowledged > 0)
                {
                    // The session made progress: a failure after it starts the backoff afresh.
                    _consecutiveFailures = 0;
                }
            }
        }
    }

    /// <summary>
    /// Publishes the rows that were in the table when the slot was created, in commit order, before streaming, with the
    /// same rule as the stream: a key whose event fails in a way that counts is recorded (retrying or parked), and the
    /// backlog rows of a held key move into the outbox table, in their order, where they wait with the key's other rows.
    /// </summary>
    private async Task DrainBacklogAsync(CancellationToken cancellationToken)
    {
        var store = _store;
        var policy = new KeyRetryPolicy(_options.MaxAttempts, _options.InitialRetryDelay, _options.MaxRetryDelay);
        var logged = false;
        while (true)
        {
            var rows = await store.ReadBacklogAsync(_options.MaxBatchSize, cancellationToken).ConfigureAwait(false);
            if (rows.Count == 0)
            {
                return;
            }

            if (!logged)
            {
                Log.DrainingBacklog(_logger, rows.Count, store.Names.SlotName);
                logged = true;
            }

            var startedAt = _timeProvider.GetTimestamp();
            var keys = rows.Select(static r => (r.AggregateType, r.AggregateId)).ToHashSet();
            var held = (await store.ReadKeyStatesAsync(keys, cancellationToken).ConfigureAwait(false))
                .Where(static s => s.Value is null).Select(static s => s.Key).ToHashSet();
            var send = held.Count == 0 ? rows : rows.FindAll(r => !held.Contains((r.AggregateType, r.AggregateId)));
            var results = send.Count == 0 ? [] : await _publisher.PublishAsync(send, cancellationToken).ConfigureAwait(false);
            var settlement = BatchSettlement.Settle(send, results);
            var outcomes = new List<KeyFailureOutcome>(settlement.Failures.Count);
            foreach (var failure in settlement.Failures)
            {
                outcomes.Add(await _parking.FailAsync(failure, policy, cancellationToken).ConfigureAwait(false));
                held.Add((failure.Message.AggregateType, failure.Message.AggregateId));
            }

            SettlementReport.Settled(RelayKind.Cdc, send, settlement, outcomes, _outboxOptions, _telemetry, _logger);
            _telemetry.BatchDuration(RelayKind.Cdc, _timeProvider.GetElapsedTime(startedAt));

            // Backlog rows predate the slot: none of them is ever in the stream, so none is taken for a stream row.
            var done = settlement.Done.Select(i => send[i].Id).ToHashSet();
            if (done.Count > 0)
            {
                await store.DeleteBacklogAsync(done.ToList(), cancellationToken).ConfigureAwait(false);
                _acknowledger.CountPublished(done.Count);
                _consecutiveFailures = 0;
            }

            var waiting = rows.Where(r => !done.Contains(r.Id) && held.Contains((r.AggregateType, r.AggregateId))).Select(static r => r.Id).ToList();
            if (waiting.Count > 0)
            {
                await store.MoveBacklogToMessagesAsync(waiting, cancellationToken).ConfigureAwait(false);
            }

            if (settlement.TransientError is { } error)
            {
                throw new CdcPublishFailedException($"Publishing the backlog failed for a reason that is not the rows' own (retried, not counted): {error}");
            }

            // Rows of other keys not attempted behind a refused one stay in the backlog and are read again first.
        }
    }

    private async Task<string?> IsSlotLostAsync(CancellationToken cancellationToken)
    {
        try
        {
            var slot = await _store.ReadSlotAsync(cancellationToken).ConfigureAwait(false);
            if (slot.IsLost)
            {
                _slots.CheckSlot(slot, slot.Database ?? string.Empty);
            }
        }
        catch (CdcSlotLostException ex)
        {
            return ex.Message;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // The database is not reachable: an ordinary retry.
        }

        return null;
    }

    private TimeSpan NextDelay()
    {
        var failures = Math.Min(++_consecutiveFailures, 30);
        return RetryBackoff.Delay(failures, _options.InitialRetryDelay, _options.MaxRetryDelay);
    }
}
