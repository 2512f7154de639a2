using Microsoft.Extensions.Logging;

namespace Outbox.Inbox;

/// <summary>Log messages of the inbox pipeline (event ids 4000-4099).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.InboxHandlerFailed, LogLevel.Warning, "Handler {Handler} failed on {Topic}[{Partition}]@{Offset} (event {EventId}, group {ConsumerGroup}, attempt {Attempt} of {MaxAttempts}); retrying in {Delay}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string handler, string topic, int partition, long offset, string? eventId, string consumerGroup, int attempt, int maxAttempts, TimeSpan delay);

    [LoggerMessage(OutboxEventId.InboxDeadLettered, LogLevel.Error, "Record {Topic}[{Partition}]@{Offset} (event {EventId}, group {ConsumerGroup}) was dead-lettered to {DeadLetterTopic}: {Reason}: {Error}")]
    public static partial void DeadLettered(ILogger logger, string topic, int partition, long offset, string? eventId, string consumerGroup, string deadLetterTopic, string reason, string error);

    [LoggerMessage(OutboxEventId.InboxTransactionFailed, LogLevel.Warning, "Inbox transaction of group {ConsumerGroup} for {Topic}[{Partition}] at offset {Offset} failed for a transient reason (attempt not counted); retrying in {Delay}")]
    public static partial void TransactionFailed(ILogger logger, Exception exception, string consumerGroup, string topic, int partition, long offset, TimeSpan delay);

    [LoggerMessage(OutboxEventId.InboxBatchFailed, LogLevel.Warning, "A batch of {Count} records of {Topic}[{Partition}] from offset {Offset} failed in handler {Handler}; handling them one by one")]
    public static partial void BatchFailed(ILogger logger, Exception exception, int count, string topic, int partition, long offset, string handler);

    [LoggerMessage(OutboxEventId.InboxDuplicate, LogLevel.Debug, "Event {EventId} at {Topic}[{Partition}]@{Offset} was already handled by group {ConsumerGroup}; skipped")]
    public static partial void Duplicate(ILogger logger, string eventId, string topic, int partition, long offset, string consumerGroup);

    [LoggerMessage(OutboxEventId.InboxDeadLetterFailed, LogLevel.Warning, "Sending {Topic}[{Partition}]@{Offset} to the dead-letter topic failed; retrying in {Delay}")]
    public static partial void DeadLetterFailed(ILogger logger, Exception exception, string topic, int partition, long offset, TimeSpan delay);

    [LoggerMessage(OutboxEventId.InboxParked, LogLevel.Error, "Record {Topic}[{Partition}]@{Offset} (event {EventId}, group {ConsumerGroup}) failed for good and is parked ({Reason}, {Attempts} attempt(s)): {Error}. Later records of its key in this partition are held until it is replayed or discarded")]
    public static partial void Parked(ILogger logger, string topic, int partition, long offset, string? eventId, string consumerGroup, string reason, int attempts, string error);

    [LoggerMessage(OutboxEventId.InboxHeld, LogLevel.Debug, "Record {Topic}[{Partition}]@{Offset} (group {ConsumerGroup}) is held: its key is parked")]
    public static partial void Held(ILogger logger, string topic, int partition, long offset, string consumerGroup);

    [LoggerMessage(OutboxEventId.InboxDeadLetterRefused, LogLevel.Error, "The dead-letter topic refused {Topic}[{Partition}]@{Offset} (group {ConsumerGroup}); the record is stored in the inbox's parked table instead")]
    public static partial void DeadLetterRefused(ILogger logger, Exception exception, string topic, int partition, long offset, string consumerGroup);

    [LoggerMessage(OutboxEventId.InboxReplayed, LogLevel.Information, "Replayed {Count} parked record(s) of {Topic}[{Partition}] for group {ConsumerGroup}")]
    public static partial void Replayed(ILogger logger, int count, string topic, int partition, string consumerGroup);

    [LoggerMessage(OutboxEventId.InboxParkedCheckFailed, LogLevel.Warning, "Checking the parked records of {Topic}[{Partition}] for group {ConsumerGroup} failed; trying again later")]
    public static partial void ParkedCheckFailed(ILogger logger, Exception exception, string topic, int partition, string consumerGroup);

    [LoggerMessage(OutboxEventId.InboxParkFailed, LogLevel.Warning, "Storing {Topic}[{Partition}]@{Offset} in the parked table for group {ConsumerGroup} failed; retrying in {Delay}")]
    public static partial void ParkFailed(ILogger logger, Exception exception, string topic, int partition, long offset, string consumerGroup, TimeSpan delay);

    [LoggerMessage(OutboxEventId.InboxCleanedUp, LogLevel.Debug, "Deleted {Count} inbox rows of group {ConsumerGroup} handled before {Cutoff}")]
    public static partial void CleanedUp(ILogger logger, int count, string consumerGroup, DateTimeOffset cutoff);

    [LoggerMessage(OutboxEventId.InboxCleanupFailed, LogLevel.Warning, "Inbox cleanup of group {ConsumerGroup} failed; trying again in {Interval}")]
    public static partial void CleanupFailed(ILogger logger, Exception exception, string consumerGroup, TimeSpan interval);

    [LoggerMessage(OutboxEventId.InboxUnknownTenant, LogLevel.Warning, "Record {Topic}[{Partition}]@{Offset} of group {ConsumerGroup} names tenant {Tenant}, which the application does not know; it goes to the dead-letter topic")]
    public static partial void UnknownTenant(ILogger logger, string tenant, string topic, int partition, long offset, string consumerGroup);

    [LoggerMessage(OutboxEventId.InboxTenantOpenFailed, LogLevel.Warning, "Reading the stored offset and parked keys of {Topic}[{Partition}] for group {ConsumerGroup} in the database of tenant {Tenant} failed; retrying in {Delay}")]
    public static partial void TenantOpenFailed(ILogger logger, Exception exception, string topic, int partition, string consumerGroup, string? tenant, TimeSpan delay);
}
