using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Npgsql.Replication;
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
                $"Creating a publication needs ownership of {names.Messages}; create it once as the owner: " +
                $"CREATE PUBLICATION {names.QuotedPublication} FOR TABLE {names.Messages} WITH (publish = 'insert');");
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

            using var session = new CdcStreamSession(replication, store, _publisher!, _acknowledger!, _options, _timeProvider, _logger);
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

    /// <summary>Publishes the rows that were in the table when the slot was created, in commit order, before streaming.</summary>
    private async Task DrainBacklogAsync(CancellationToken cancellationToken)
    {
        var store = _store!;
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

            var results = await _publisher!.PublishAsync(rows, cancellationToken).ConfigureAwait(false);
            // Backlog rows predate the slot: none of them is ever in the stream, so none is taken for a stream row.
            var (done, error) = await _acknowledger!.SettleAsync(rows.ConvertAll(static r => new CdcRow(r, CdcRow.Backlog)), results, cancellationToken).ConfigureAwait(false);
            if (done > 0)
            {
                await store.DeleteBacklogAsync(rows.Take(done).Select(r => r.Id).ToList(), cancellationToken).ConfigureAwait(false);
                _consecutiveFailures = 0;
            }

            if (done < rows.Count)
            {
                throw new CdcPublishFailedException($"Publishing backlog row {rows[done].Id} failed: {error}");
            }
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
        var delay = _options.RetryBaseDelay * Math.Pow(2, failures - 1);
        return delay < _options.RetryMaxDelay ? delay : _options.RetryMaxDelay;
    }
}
