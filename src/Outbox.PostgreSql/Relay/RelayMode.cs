namespace Outbox.PostgreSql;

/// <summary>How this process relays the outbox: one of them per process (<see cref="RelayModeRegistration"/>).</summary>
internal enum RelayMode
{
    /// <summary><c>AddPollingRelay()</c>: lanes leased from the table, in commit order from the commit-order trigger.</summary>
    Polling,

    /// <summary><c>AddCdcRelay()</c>: a logical replication stream, in commit (WAL) order.</summary>
    Cdc,

    /// <summary><c>UseDebezium()</c>: no relay in the process; Debezium reads the publication, in commit (WAL) order.</summary>
    Debezium,
}
