using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Outbox.Kafka.Publishing;

/// <summary>Log messages of the Kafka publisher (event ids 3000-3099).</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
    public static partial void ProducerError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(3002, LogLevel.Error, "Kafka producer fatal error {Code}: {Reason}; the producer is disposed and a new one is created for the next batch")]
    public static partial void ProducerFatalError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(3003, LogLevel.Information, "Kafka producer created (generation {Generation})")]
    public static partial void ProducerCreated(ILogger logger, int generation);

    [LoggerMessage(3004, LogLevel.Warning, "{Count} Kafka deliveries were still outstanding after the flush time limit of {FlushTimeout}")]
    public static partial void FlushTimedOut(ILogger logger, int count, TimeSpan flushTimeout);

    [LoggerMessage(3005, LogLevel.Warning, "Disposing a retired Kafka producer failed")]
    public static partial void RetireFailed(ILogger logger, Exception exception);
}
