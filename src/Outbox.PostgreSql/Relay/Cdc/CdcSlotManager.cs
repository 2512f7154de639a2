using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using Outbox.PostgreSql.Replication;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Checks the server and sets up the publication (<see cref="OutboxPublication"/>) and the slot. The publication is created before the slot (a write
/// between the two would make decoding fail), never inside an application transaction, and the slot is created with an
/// exported snapshot in which the rows it cannot stream are moved to the backlog table, so none is skipped.
/// </summary>
internal sealed class CdcSlotManager(
    CdcStore store,
    ILogger logger,
    OutboxUnknownCommitOrder unknownCommitOrder = OutboxUnknownCommitOrder.Refuse,
    string slotOption = "CdcRelayOptions.SlotName",
    string publicationOption = "CdcRelayOptions.PublicationName")
{
    private bool _warnedCommitTimestamps;

    private CdcNames Names => store.Names;

    /// <summary>Checks settings, privileges and the outbox table.</summary>
    /// <exception cref="OutboxConfigurationException">The server cannot run the relay; the message names the setting.</exception>
    public async Task<CdcServerFacts> CheckServerAsync(CancellationToken cancellationToken)
    {
        var facts = await store.ReadServerFactsWithReplicationRoleAsync(cancellationToken).ConfigureAwait(false);
        if (!string.Equals(facts.WalLevel, "logical", StringComparison.Ordinal))
        {
            throw new OutboxConfigurationException(
                $"The CDC relay needs the PostgreSQL setting wal_level = logical, but the server runs with wal_level = '{facts.WalLevel}'. " +
                "Set wal_level = logical in postgresql.conf (or run ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL, " +
                "or use the polling relay (AddPollingRelay) instead.");
        }

        if (facts.MaxReplicationSlots < 1)
        {
            throw new OutboxConfigurationException(
                "The CDC relay needs a replication slot, but the PostgreSQL setting max_replication_slots is 0. Raise it (it needs a restart).");
        }

        if (facts.MaxWalSenders < 1)
        {
            throw new OutboxConfigurationException(
                "The CDC relay needs a WAL sender, but the PostgreSQL setting max_wal_senders is 0. Raise it (it needs a restart).");
        }

        if (!facts.CanReplicate)
        {
            throw new OutboxConfigurationException(
                $"The CDC relay's {(facts.ReplicationRoleSeparate ? "replication user (PostgreSqlOutboxOptions.ReplicationConnectionString)" : "database user")} " +
                $"'{facts.CurrentUser}' lacks the REPLICATION privilege that logical replication needs. " +
                $"Grant it with ALTER ROLE {SqlIdentifier.Quote(facts.CurrentUser)} WITH REPLICATION (or connect as a user that has it).");
        }

        if (!facts.TableExists)
        {
            throw new OutboxConfigurationException(
                $"The outbox table {Names.Tables.Messages} does not exist in database '{facts.Database}'. Create the schema first " +
                "(OutboxSchema.CreateScript in a migration, or PostgreSqlOutboxOptions.EnsureSchemaOnStart).");
        }

        if (!facts.RelayTablesExist)
        {
            throw new OutboxConfigurationException(
                $"The CDC relay's tables {Names.Tables.CdcSlots} and {Names.Tables.CdcBacklog} do not exist in database '{facts.Database}': the outbox schema " +
                "predates them. Run the schema script again (it is idempotent): OutboxSchema.CreateScript / `dotnet outbox schema`, " +
                "or PostgreSqlOutboxOptions.EnsureSchemaOnStart.");
        }

        if (!facts.TrackCommitTimestamp && !_warnedCommitTimestamps)
        {
            _warnedCommitTimestamps = true;
            Log.CommitTimestampsOff(logger);
        }

        return facts;
    }

    /// <summary>Creates the publication when it is missing, or checks that the existing one publishes the outbox table's inserts only.</summary>
    public Task EnsurePublicationAsync(CancellationToken cancellationToken) =>
        new OutboxPublication(store, logger, publicationOption).EnsureAsync(cancellationToken);

    /// <summary>Checks that an existing slot can be used; throws when it is another database's, not pgoutput, or lost.</summary>
    public void CheckSlot(CdcSlotStatus slot, string database)
    {
        if (!slot.Exists)
        {
            return;
        }

        if (!slot.IsLogical || !string.Equals(slot.Plugin, "pgoutput", StringComparison.Ordinal) || slot.IsTemporary)
        {
            throw new OutboxConfigurationException(
                $"Replication slot '{Names.SlotName}' ({slotOption}) exists but is not a permanent logical slot of the pgoutput plugin " +
                $"(plugin '{slot.Plugin}'). Choose another {slotOption} or drop that slot.");
        }

        if (!string.Equals(slot.Database, database, StringComparison.Ordinal))
        {
            throw new OutboxConfigurationException(
                $"Replication slot '{Names.SlotName}' ({slotOption}) belongs to database '{slot.Database}', not '{database}'. " +
                $"Slot names are unique in the whole PostgreSQL cluster: choose another {slotOption} for this database.");
        }

        if (slot.IsLost)
        {
            throw new CdcSlotLostException(
                $"Replication slot '{Names.SlotName}' was invalidated (wal_status = lost): the server removed WAL it still needed, " +
                "so rows committed after its confirmed position can no longer be streamed. The relay does not recreate it by itself. " +
                "Rows not yet acknowledged by Kafka are still in the outbox table: drop the slot " +
                $"(SELECT pg_drop_replication_slot('{Names.SlotName}')) and the relay creates a new one and publishes them (see docs/relay-cdc.md). " +
                "Raise max_slot_wal_keep_size, or watch the slot's lag, to prevent it.");
        }
    }

    /// <summary>
    /// Makes sure the slot exists and is ready, under the set-up lock. A missing slot is created with an exported
    /// snapshot, and the rows that snapshot sees (committed before the slot) move to the backlog table atomically.
    /// </summary>
    /// <returns>The slot's status after set-up.</returns>
    public async Task EnsureSlotAsync(LogicalReplicationConnection connection, string database, CancellationToken cancellationToken)
    {
        var slot = await store.ReadSlotAsync(cancellationToken).ConfigureAwait(false);
        CheckSlot(slot, database);
        var state = await store.ReadSlotStateAsync(cancellationToken).ConfigureAwait(false);
        if (slot.Exists)
        {
            if (state == CdcSlotState.Ready)
            {
                return;
            }

            if (state == CdcSlotState.None)
            {
                Log.AdoptingSlot(logger, Names.SlotName);
                await store.SetSlotStateAsync(CdcSlotState.Ready, cancellationToken).ConfigureAwait(false);
                return;
            }

            // Recorded as being created: the previous start died before capturing the backlog. Nothing was streamed
            // from it (streaming starts only when it is ready), so dropping it loses nothing.
            Log.DroppingHalfCreatedSlot(logger, Names.SlotName);
            await connection.DropReplicationSlot(Names.SlotName, wait: false, cancellationToken).ConfigureAwait(false);
        }

        // Rows whose commit order is unknown refuse before a slot is made (checked again in its snapshot).
        var acceptWriteOrder = unknownCommitOrder == OutboxUnknownCommitOrder.WriteOrder;
        if (!acceptWriteOrder)
        {
            await store.CheckCommitOrderKnownAsync(cancellationToken).ConfigureAwait(false);
        }

        await store.SetSlotStateAsync(CdcSlotState.Creating, cancellationToken).ConfigureAwait(false);
        var created = await connection.CreatePgOutputReplicationSlot(
            Names.SlotName, temporarySlot: false, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken).ConfigureAwait(false);
        int moved;
        try
        {
            moved = await store.CaptureBacklogAsync(
                created.SnapshotName ?? throw new OutboxException("CREATE_REPLICATION_SLOT returned no snapshot."), acceptWriteOrder, cancellationToken).ConfigureAwait(false);
        }
        catch (OutboxConfigurationException)
        {
            // Nothing was captured or streamed: drop the slot rather than let it pin WAL until the fix.
            await connection.DropReplicationSlot(Names.SlotName, wait: false, cancellationToken).ConfigureAwait(false);
            throw;
        }

        Log.SlotCreated(logger, Names.SlotName, created.ConsistentPoint.ToString(), moved);
    }
}
