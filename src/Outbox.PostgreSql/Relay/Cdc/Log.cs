using Microsoft.Extensions.Logging;

namespace Outbox.PostgreSql.Cdc;

/// <summary>Log messages of the CDC relay (event ids 5000-5099).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.CdcStreaming, LogLevel.Information, "CDC relay streaming from slot {SlotName} (publication {PublicationName})")]
    public static partial void Streaming(ILogger logger, string slotName, string publicationName);

    [LoggerMessage(OutboxEventId.CdcStopped, LogLevel.Information, "CDC relay stopped; slot {SlotName} confirmed up to {ConfirmedLsn}")]
    public static partial void Stopped(ILogger logger, string slotName, string confirmedLsn);

    [LoggerMessage(OutboxEventId.CdcPublicationCreated, LogLevel.Information, "Created publication {PublicationName} of table {Table} (inserts only)")]
    public static partial void PublicationCreated(ILogger logger, string publicationName, string table);

    [LoggerMessage(OutboxEventId.CdcSlotCreated, LogLevel.Information, "Created replication slot {SlotName} at {ConsistentPoint}; {Moved} rows committed before it moved to the backlog")]
    public static partial void SlotCreated(ILogger logger, string slotName, string consistentPoint, int moved);

    [LoggerMessage(OutboxEventId.CdcDroppingHalfCreatedSlot, LogLevel.Warning, "Replication slot {SlotName} was left half-created by an earlier start; dropping it and creating it again")]
    public static partial void DroppingHalfCreatedSlot(ILogger logger, string slotName);

    [LoggerMessage(OutboxEventId.CdcAdoptingSlot, LogLevel.Warning, "Replication slot {SlotName} was not created by this relay: using it as it is. Rows committed before it was created are not in its stream")]
    public static partial void AdoptingSlot(ILogger logger, string slotName);

    [LoggerMessage(OutboxEventId.CdcStandby, LogLevel.Information, "Standing by for slot {SlotName}: {Reason}")]
    public static partial void Standby(ILogger logger, string slotName, string reason);

    [LoggerMessage(OutboxEventId.CdcDrainingBacklog, LogLevel.Information, "Publishing {Count} backlog rows (committed before slot {SlotName} was created)")]
    public static partial void DrainingBacklog(ILogger logger, long count, string slotName);

    [LoggerMessage(OutboxEventId.CdcKeyFlowsAgain, LogLevel.Information, "Key {AggregateType}/{AggregateId} was released: the CDC relay publishes its events again from the release on")]
    public static partial void KeyFlowsAgain(ILogger logger, string aggregateType, string aggregateId);

    [LoggerMessage(OutboxEventId.CdcRetryReleased, LogLevel.Information, "Key {AggregateType}/{AggregateId} is due for its retry: released, its {Events} waiting event(s) stream again in order")]
    public static partial void RetryReleased(ILogger logger, string aggregateType, string aggregateId, int events);

    [LoggerMessage(OutboxEventId.CdcParkingMaintenanceFailed, LogLevel.Warning, "Releasing keys due for their retry, or forgetting released keys, failed; the CDC relay goes on streaming and tries again at the next check")]
    public static partial void ParkingMaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(OutboxEventId.CdcStopping, LogLevel.Information, "CDC relay stopping: finishing the transaction being published and settling the batches in flight (at most {ShutdownTimeout})")]
    public static partial void Stopping(ILogger logger, TimeSpan shutdownTimeout);

    [LoggerMessage(OutboxEventId.CdcRetrying, LogLevel.Warning, "CDC relay failed; it resumes from the last confirmed position in {Delay}")]
    public static partial void Retrying(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(OutboxEventId.CdcFaulted, LogLevel.Critical, "CDC relay cannot go on: {Reason}")]
    public static partial void Faulted(ILogger logger, string reason);

    [LoggerMessage(OutboxEventId.CdcPublicationHasOtherTables, LogLevel.Warning, "Publication {PublicationName} also publishes {TableCount} other table(s): their rows are decoded and skipped")]
    public static partial void PublicationHasOtherTables(ILogger logger, string publicationName, int tableCount);

    [LoggerMessage(OutboxEventId.CdcStartupCheckDeferred, LogLevel.Warning, "The database could not be reached when the CDC relay started; it keeps trying")]
    public static partial void StartupCheckDeferred(ILogger logger, Exception exception);

    [LoggerMessage(OutboxEventId.CdcFlushFailed, LogLevel.Warning, "Deleting acknowledged rows or confirming the slot position failed")]
    public static partial void FlushFailed(ILogger logger, Exception exception);

    [LoggerMessage(OutboxEventId.CdcShutdownTimedOut, LogLevel.Warning, "Rows were still in flight when the shutdown time limit of {ShutdownTimeout} expired; the next relay publishes them again")]
    public static partial void ShutdownTimedOut(ILogger logger, TimeSpan shutdownTimeout);

    [LoggerMessage(OutboxEventId.CdcSlotAtRisk, LogLevel.Warning, "Replication slot {SlotName} is {WalStatus}: the WAL it needs will be removed at the next checkpoint unless the relay catches up (lag {LagBytes} bytes)")]
    public static partial void SlotAtRisk(ILogger logger, string slotName, string walStatus, long? lagBytes);

    [LoggerMessage(OutboxEventId.CdcCommitTimestampsOff, LogLevel.Warning, "track_commit_timestamp is off: rows written without the commit-order trigger that must be published from the table (a new slot's backlog, a switch to polling) have an unknown commit order when one key has rows of several transactions, and are then refused (PostgreSqlOutboxOptions.UnknownCommitOrder). Set track_commit_timestamp = on (it needs a restart); see docs/relay-cdc.md")]
    public static partial void CommitTimestampsOff(ILogger logger);
}
