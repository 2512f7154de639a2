using Microsoft.Extensions.Logging;

namespace Outbox.PostgreSql;

/// <summary>Log messages of the schema initializer (event ids 2100-2119).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.SchemaEnsured, LogLevel.Information, "Outbox schema ensured for {Table} (commit order: {CommitOrder})")]
    public static partial void SchemaEnsured(ILogger logger, string table, OutboxCommitOrder commitOrder);

    [LoggerMessage(OutboxEventId.SchemaCommitTriggerKept, LogLevel.Warning, "The commit-order trigger {Trigger} on {Table} is kept although only the CDC relay or Debezium is registered: every write pays for it at commit. " +
                                           "Once no polling relay runs on this table any more, drop it: {DropStatement}")]
    public static partial void CommitTriggerKept(ILogger logger, string trigger, string table, string dropStatement);

    [LoggerMessage(OutboxEventId.SchemaCommitOrderCheckDeferred, LogLevel.Warning, "The database could not be reached to check the polling relay's commit-order trigger at start; the relay checks again before it leases a lane")]
    public static partial void CommitOrderCheckDeferred(ILogger logger, Exception exception);
}
