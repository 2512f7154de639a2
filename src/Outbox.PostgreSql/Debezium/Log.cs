using Microsoft.Extensions.Logging;

namespace Outbox.PostgreSql.Debezium;

/// <summary>Log messages of Debezium mode (event ids 5100-5149).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.DebeziumMode, LogLevel.Information, "Debezium mode: no relay runs in this process; Debezium's connector reads publication {PublicationName} through slot {SlotName}")]
    public static partial void DebeziumMode(ILogger logger, string publicationName, string slotName);

    [LoggerMessage(OutboxEventId.DebeziumWalLevelNotLogical, LogLevel.Warning, "Debezium mode: the server runs with wal_level = '{WalLevel}'; Debezium's connector needs wal_level = logical")]
    public static partial void WalLevelNotLogical(ILogger logger, string walLevel);

    [LoggerMessage(OutboxEventId.DebeziumPublicationDeferred, LogLevel.Warning, "Debezium mode: the publication could not be checked or created at start; create it before starting the connector (see docs/debezium.md)")]
    public static partial void PublicationDeferred(ILogger logger, Exception exception);
}
