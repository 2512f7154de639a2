using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Npgsql.Replication;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// The CDC relay: checks the server at start (a bad setting fails the host with a message that names it), then loops:
/// set up the publication and slot, publish the backlog, stream. A standby waits while another instance streams; a lost
/// slot faults the relay until an operator acts; other failures are retried with backoff from the last confirmed position.
/// </summary>
internal sealed class CdcRelayService : IHostedService, IAsyncDisposable
{
    private readonly IServiceProvider _services;
    private readonly CdcRelayOptions _options;
    private readonly CdcRelayMonitor _monitor;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private CdcStore? _store;
    private CdcSlotManager? _slots;
    private CdcAcknowledger? _acknowledger;
    private ParkingStore? _parking;
    private OutboxOptions? _outboxOptions;
    private IOutboxPublisher? _publisher;
    private string? _connectionString;
    private Task? _loop;
    private int _consecutiveFailures;
    private CdcStreamSession? _session;

    public CdcRelayService(IServiceProvider services, IOptions<CdcRelayOptions> options, CdcRelayMonitor monitor, TimeProvider timeProvider, ILogger<CdcRelayService> logger)
    {
        _services = services;
        _options = options.Value;
        _monitor = monitor;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Gets the progress of the current (or last) replication session, for diagnostics.</summary>
    internal CdcProgress? SessionProgress => Volatile.Read(ref _session)?.Progress;

    /// <summary>Gets the payload bytes the current (or last) session holds decoded and not settled, now and at most, for diagnostics.</summary>
    internal (long Now, long Peak)? SessionBytesInFlight => Volatile.Read(ref _session)?.BytesInFlight;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Resolve();
        try
        {
            var facts = await _slots!.CheckServerAsync(cancellationToken).ConfigureAwait(false);
            await EnsurePublicationAsync(cancellationToken).ConfigureAwait(false);
            _slots.CheckSlot(await _store!.ReadSlotAsync(cancellationToken).ConfigureAwait(false), facts.Database);
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

        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stopping.Dispose();
    }

    /// <summary>Runs iterations until stopped.</summary>
    internal async Task RunAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var delay = await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, _timeProvider, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        _monitor.Set(CdcRelayState.Stopped);
    }

    /// <summary>One iteration: set up and stream until stopped or failed; returns how long to wait before the next one.</summary>
    internal async Task<TimeSpan> RunOnceAsync(CancellationToken stoppingToken)
    {
        Resolve();
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

    private void Resolve()
    {
        if (_store is not null)
        {
            return;
        }

        _publisher = _services.GetService<IOutboxPublisher>()
                     ?? throw new OutboxConfigurationException("AddCdcRelay() needs a broker: call UseKafka(...) on the outbox builder.");
        var postgreSql = _services.GetService<IOptions<PostgreSqlOutboxOptions>>()?.Value;
        _connectionString = postgreSql?.EffectiveReplicationConnectionString;
        if (string.IsNullOrWhiteSpace(_connectionString))
        {
            throw new OutboxConfigurationException("AddCdcRelay() needs the PostgreSQL store: call UsePostgreSql(connectionString) on the outbox builder.");
        }

        _store = _services.GetRequiredService<CdcStore>();
        _acknowledger = _services.GetRequiredService<CdcAcknowledger>();
        _outboxOptions = _services.GetRequiredService<IOptions<OutboxOptions>>().Value;
        _parking = new ParkingStore(_services.GetRequiredService<OutboxDataSource>().DataSource, _outboxOptions);
        _slots = new CdcSlotManager(_store, _logger, postgreSql!.UnknownCommitOrder);
    }

    private async Task EnsurePublicationAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _slots!.EnsurePublicationAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            var names = _store!.Names;
            throw new OutboxConfigurationException(
                $"The CDC relay could not create publication '{names.PublicationName}' (CdcRelayOptions.PublicationName): {ex.MessageText}. " +
                $"Creating a publication needs ownership of {names.Tables.Messages}; create it once as the owner: " +
                $"CREATE PUBLICATION {names.QuotedPublication} FOR TABLE {names.Tables.Messages} WITH (publish = 'insert');");
        }
    }

    private async Task SetUpAndStreamAsync(CancellationToken stoppingToken)
    {
        var store = _store!;
        var slots = _slots!;
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

            using var session = new CdcStreamSession(replication, store, _publisher!, _acknowledger!, _parking!, _outboxOptions!, _options, _timeProvider, _logger);
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
        var store = _store!;
        var policy = new KeyRetryPolicy(_options.MaxAttempts, _options.RetryBaseDelay, _options.RetryMaxDelay);
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
            var results = send.Count == 0 ? [] : await _publisher!.PublishAsync(send, cancellationToken).ConfigureAwait(false);
            var settlement = BatchSettlement.Settle(send, results);
            var outcomes = new List<KeyFailureOutcome>(settlement.Failures.Count);
            foreach (var failure in settlement.Failures)
            {
                outcomes.Add(await _parking!.FailAsync(failure, policy, cancellationToken).ConfigureAwait(false));
                held.Add((failure.Message.AggregateType, failure.Message.AggregateId));
            }

            SettlementReport.Settled(RelayKind.Cdc, send, settlement, outcomes, _outboxOptions!, _logger);
            RelayTelemetry.BatchDuration(RelayKind.Cdc, _timeProvider.GetElapsedTime(startedAt));

            // Backlog rows predate the slot: none of them is ever in the stream, so none is taken for a stream row.
            var done = settlement.Done.Select(i => send[i].Id).ToHashSet();
            if (done.Count > 0)
            {
                await store.DeleteBacklogAsync(done.ToList(), cancellationToken).ConfigureAwait(false);
                _acknowledger!.CountPublished(done.Count);
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
            var slot = await _store!.ReadSlotAsync(cancellationToken).ConfigureAwait(false);
            if (slot.IsLost)
            {
                _slots!.CheckSlot(slot, slot.Database ?? string.Empty);
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
        return RetryBackoff.Delay(failures, _options.RetryBaseDelay, _options.RetryMaxDelay);
    }
}
