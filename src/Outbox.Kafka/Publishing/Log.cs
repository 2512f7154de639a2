using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Outbox.Kafka.Publishing;

/// <summary>Log messages of the Kafka publisher (event ids 3000-3099).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.ProducerError, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
    public static partial void ProducerError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(OutboxEventId.ProducerFatalError, LogLevel.Error, "Kafka producer fatal error {Code}: {Reason}; the producer is disposed and a new one is created for the next batch")]
    public static partial void ProducerFatalError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(OutboxEventId.ProducerCreated, LogLevel.Information, "Kafka producer created (generation {Generation})")]
    public static partial void ProducerCreated(ILogger logger, int generation);

    [LoggerMessage(OutboxEventId.ProducerFlushTimedOut, LogLevel.Warning, "{Count} Kafka deliveries were still outstanding after the flush time limit of {FlushTimeout}")]
    public static partial void FlushTimedOut(ILogger logger, int count, TimeSpan flushTimeout);

    [LoggerMessage(OutboxEventId.ProducerRetireFailed, LogLevel.Warning, "Disposing a retired Kafka producer failed")]
    public static partial void RetireFailed(ILogger logger, Exception exception);

    [LoggerMessage(OutboxEventId.ProducerDeliveryTimedOut, LogLevel.Warning, "{Count} Kafka deliveries were not acknowledged within {Timeout} (message.timeout.ms); they fail as transient and the producer (generation {Generation}) is replaced, so that no later record overtakes them")]
    public static partial void DeliveryTimedOut(ILogger logger, int count, TimeSpan timeout, int generation);

    [LoggerMessage(EventId = OutboxEventId.ProducerLibrdkafka, Message = "librdkafka {Facility}: {Message}")]
    public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);

    /// <summary>librdkafka's own log lines go to the application's logger instead of stderr. Its "errors" are mostly
    /// connection failures that it retries by itself, so they are warnings here; fatal errors are logged separately.</summary>
    public static void Librdkafka(ILogger logger, LogMessage message)
    {
        var level = message.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Error,
            SyslogLevel.Error or SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        if (logger.IsEnabled(level))
        {
            Librdkafka(logger, level, message.Facility, message.Message);
        }
    }
}
