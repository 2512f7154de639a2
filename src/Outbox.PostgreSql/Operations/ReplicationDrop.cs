namespace Outbox.PostgreSql;

/// <summary>What <see cref="OutboxAdministration.DropReplicationAsync"/> did.</summary>
/// <param name="Slot">What happened to the replication slot.</param>
/// <param name="SlotActivePid">The server process that uses the slot, when <paramref name="Slot"/> is <see cref="ReplicationSlotDrop.InUse"/> (and PostgreSQL reports it).</param>
/// <param name="PublicationFound">Whether the publication existed (and was dropped); <see langword="false"/> as well when the slot was in use and nothing was dropped.</param>
public sealed record ReplicationDrop(ReplicationSlotDrop Slot, int? SlotActivePid, bool PublicationFound);
