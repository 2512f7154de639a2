namespace Outbox.PostgreSql;

/// <summary>What the registered relays need from the schema; set at registration, read by <see cref="OutboxSchemaInitializer"/>.</summary>
internal sealed class OutboxSchemaRequirements
{
    /// <summary>Gets or sets a value indicating whether a relay that reads commit order from the WAL (CDC, Debezium) is registered.</summary>
    public bool CommitOrderFromWal { get; set; }

    /// <summary>Gets or sets a value indicating whether the polling relay, which needs the commit-order trigger, is registered.</summary>
    public bool PollingRelay { get; set; }

    /// <summary>Gets the schema variant these relays need: the trigger unless only WAL-reading relays are registered.</summary>
    public OutboxCommitOrder CommitOrder => CommitOrderFromWal && !PollingRelay ? OutboxCommitOrder.WriteAheadLog : OutboxCommitOrder.Trigger;
}
