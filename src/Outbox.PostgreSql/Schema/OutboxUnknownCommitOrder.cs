namespace Outbox.PostgreSql;

/// <summary>
/// What to do with outbox rows whose commit order PostgreSQL did not record: rows written without the commit-order
/// trigger (<see cref="OutboxCommitOrder.WriteAheadLog"/>) while <c>track_commit_timestamp</c> was off, when one key has
/// such rows from more than one transaction and they must be published from the table (the CDC relay's backlog when it
/// creates a slot, or the default schema script numbering them for the polling relay). See docs/relay-cdc.md.
/// </summary>
public enum OutboxUnknownCommitOrder
{
    /// <summary>Refuse with an <see cref="OutboxConfigurationException"/> that names the keys and the fixes. The default.</summary>
    Refuse = 0,

    /// <summary>
    /// Publish them in write order (the order their rows were inserted, by id): commit order unless two transactions
    /// that wrote the same key overlapped, in which case their events may be published in the other order.
    /// </summary>
    WriteOrder = 1,
}
