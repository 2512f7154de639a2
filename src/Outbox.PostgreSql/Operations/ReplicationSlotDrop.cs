namespace Outbox.PostgreSql;

/// <summary>What <see cref="OutboxAdministration.DropReplicationAsync"/> did with the replication slot.</summary>
public enum ReplicationSlotDrop
{
    /// <summary>The database has no slot of that name.</summary>
    NotFound,

    /// <summary>A relay or connector uses the slot: nothing was dropped.</summary>
    InUse,

    /// <summary>The slot was dropped.</summary>
    Dropped,
}
