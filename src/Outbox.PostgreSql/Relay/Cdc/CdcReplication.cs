using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// The CDC relay's work against PostgreSQL (<see cref="ICdcReplication"/>): checks the server, sets up the publication
/// and the slot under the setup lock, publishes the backlog (<see cref="CdcBacklogDrain"/>) and streams
/// (<see cref="CdcStreamSession"/>) on a replication connection of its own.
/// </summary>
internal sealed class CdcReplication : ICdcReplication
{
    private readonly CdcStore _store;
    private readonly CdcSlotManager _slots;
    private readonly CdcAcknowledger _acknowledger;
    private readonly ParkingStore _parking;
    private readonly IOutboxPublisher _publisher;
    private readonly OutboxOptions _outboxOptions;
    private readonly CdcRelayOptions _options;
    private readonly string _connectionString;
    private readonly TimeProvider _timeProvider;
    private readonly RelayTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly CdcBacklogDrain _backlog;
    private CdcStreamSession? _session;
    private bool _madeProgress;

    /// <summary>Initializes a new instance of the <see cref="CdcReplication"/> class; <paramref name="replicationConnectionString"/>
    /// is the connection string the replication connection opens.</summary>
    public CdcReplication(
        CdcStore store,
        CdcSlotManager slots,
        CdcAcknowledger acknowledger,
        ParkingStore parking,
        IOutboxPublisher publisher,
        OutboxOptions outboxOptions,
        CdcRelayOptions options,
        string replicationConnectionString,
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
        _timeProvider = timeProvider;
        _telemetry = telemetry;
        _logger = logger;
        _backlog = new CdcBacklogDrain(store, parking, publisher, acknowledger, outboxOptions, options, timeProvider, telemetry, logger);
    }

    public bool MadeProgress => Volatile.Read(ref _madeProgress);

    public CdcProgress? SessionProgress => Volatile.Read(ref _session)?.Progress;

    public (long Now, long Peak)? SessionBytesInFlight => Volatile.Read(ref _session)?.BytesInFlight;

    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        var facts = await _slots.CheckServerAsync(cancellationToken).ConfigureAwait(false);
        await EnsurePublicationAsync(cancellationToken).ConfigureAwait(false);
        _slots.CheckSlot(await _store.ReadSlotAsync(cancellationToken).ConfigureAwait(false), facts.Database);
    }

    public async Task SetUpAndStreamAsync(Action streaming, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _madeProgress, false);
        var store = _store;
        var facts = await _slots.CheckServerAsync(cancellationToken).ConfigureAwait(false);
        await EnsurePublicationAsync(cancellationToken).ConfigureAwait(false);

        var slot = await store.ReadSlotAsync(cancellationToken).ConfigureAwait(false);
        _slots.CheckSlot(slot, facts.Database);
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
            var setupLock = await store.TryLockSetupAsync(cancellationToken).ConfigureAwait(false)
                            ?? throw new CdcSlotBusyException($"Another relay is setting up replication slot '{store.Names.SlotName}'.");
            var publishedBefore = _acknowledger.Published;
            try
            {
                await replication.Open(cancellationToken).ConfigureAwait(false);
                await _slots.EnsureSlotAsync(replication, facts.Database, cancellationToken).ConfigureAwait(false);
                await _backlog.DrainAsync(store.Names.SlotName, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (_acknowledger.Published > publishedBefore)
                {
                    Volatile.Write(ref _madeProgress, true);
                }

                await store.UnlockSetupAsync(setupLock).ConfigureAwait(false);
            }

            using var session = new CdcStreamSession(replication, store, _publisher, _acknowledger, _parking, _outboxOptions, _options, _timeProvider, _telemetry, _logger);
            Volatile.Write(ref _session, session);
            streaming();
            Log.Streaming(_logger, store.Names.SlotName, store.Names.PublicationName);
            try
            {
                await session.RunAsync(cancellationToken).ConfigureAwait(false);
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
                    Volatile.Write(ref _madeProgress, true);
                }
            }
        }
    }

    public async Task<string?> LostSlotAsync(CancellationToken cancellationToken)
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
}
