namespace Outbox.PostgreSql;

/// <summary>How the schema records the commit order of outbox rows (see docs/write-path.md).</summary>
public enum OutboxCommitOrder
{
    /// <summary>
    /// A deferred constraint trigger numbers every row when its transaction commits (<c>commit_seq</c>) and wakes
    /// polling relays with <c>pg_notify</c>. The polling relay needs it to keep per-key order; every relay works with
    /// it. The default.
    /// </summary>
    Trigger = 0,

    /// <summary>
    /// No commit-order trigger: the CDC relay and Debezium read commit order from the write-ahead log, so writes skip
    /// the trigger's work at commit. Rows keep <c>commit_seq</c> empty; the polling relay refuses to start on such a schema.
    /// </summary>
    WriteAheadLog = 1,
}
