using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Outbox.Kafka.Consuming;

/// <summary>Log messages of the Kafka consumer host of the inbox (event ids 4100-4199).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.ConsumerStarted, LogLevel.Information, "Inbox consumer group {ConsumerGroup} started on topics {Topics}")]
    public static partial void Started(ILogger logger, string consumerGroup, string topics);

    [LoggerMessage(OutboxEventId.ConsumerStopped, LogLevel.Information, "Inbox consumer group {ConsumerGroup} stopped")]
    public static partial void Stopped(ILogger logger, string consumerGroup);

    [LoggerMessage(OutboxEventId.ConsumerAssigned, LogLevel.Information, "Group {ConsumerGroup} assigned {Partitions}")]
    public static partial void Assigned(ILogger logger, string consumerGroup, string partitions);

    [LoggerMessage(OutboxEventId.ConsumerRevoked, LogLevel.Information, "Group {ConsumerGroup} revoked {Partitions}")]
    public static partial void Revoked(ILogger logger, string consumerGroup, string partitions);

    [LoggerMessage(OutboxEventId.ConsumerLost, LogLevel.Warning, "Group {ConsumerGroup} lost {Partitions}: in-flight work is abandoned and rolled back, nothing is committed for them")]
    public static partial void Lost(ILogger logger, string consumerGroup, string partitions);

    [LoggerMessage(OutboxEventId.ConsumerError, LogLevel.Warning, "Kafka consumer of group {ConsumerGroup}: {Code}: {Reason}")]
    public static partial void ConsumerError(ILogger logger, string consumerGroup, ErrorCode code, string reason);

    [LoggerMessage(OutboxEventId.ConsumerConsumeFailed, LogLevel.Warning, "Consuming in group {ConsumerGroup} failed")]
    public static partial void ConsumeFailed(ILogger logger, Exception exception, string consumerGroup);

    [LoggerMessage(OutboxEventId.ConsumerReadOffsetsFailed, LogLevel.Warning, "Reading the stored offsets or parked keys of group {ConsumerGroup} failed; retrying in {Delay}")]
    public static partial void ReadOffsetsFailed(ILogger logger, Exception exception, string consumerGroup, TimeSpan delay);

    [LoggerMessage(OutboxEventId.ConsumerStoreOffsetFailed, LogLevel.Debug, "Storing offset {Offset} of {Topic}[{Partition}] failed")]
    public static partial void StoreOffsetFailed(ILogger logger, Exception exception, string topic, int partition, long offset);

    [LoggerMessage(OutboxEventId.ConsumerFatalError, LogLevel.Error, "Kafka consumer of group {ConsumerGroup} had a fatal error {Code}: {Reason}; it is recreated")]
    public static partial void FatalError(ILogger logger, string consumerGroup, ErrorCode code, string reason);

    [LoggerMessage(OutboxEventId.ConsumerWorkerFailed, LogLevel.Error, "The partition worker of {Topic}[{Partition}] in group {ConsumerGroup} failed")]
    public static partial void WorkerFailed(ILogger logger, Exception exception, string topic, int partition, string consumerGroup);

    [LoggerMessage(OutboxEventId.ConsumerClientLog, LogLevel.Debug, "librdkafka {Facility}: {Message}")]
    public static partial void ClientLog(ILogger logger, string facility, string message);
}
