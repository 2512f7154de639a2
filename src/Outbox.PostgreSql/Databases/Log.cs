using Microsoft.Extensions.Logging;

namespace Outbox.PostgreSql.Databases;

/// <summary>Log messages of the relay fleet over many databases (event ids 1100-1119).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.FleetDatabaseStarted, LogLevel.Information, "Outbox database {Database} joined: {What}")]
    public static partial void DatabaseStarted(ILogger logger, string database, string what);

    [LoggerMessage(OutboxEventId.FleetDatabaseStopped, LogLevel.Information, "Outbox database {Database} left: its relay stopped and gave its lanes back")]
    public static partial void DatabaseStopped(ILogger logger, string database);

    [LoggerMessage(OutboxEventId.FleetDatabaseFailed, LogLevel.Error, "Outbox database {Database} cannot be served yet ({Step}); trying again at the next refresh")]
    public static partial void DatabaseFailed(ILogger logger, string database, string step, Exception exception);

    [LoggerMessage(OutboxEventId.FleetSourceFailed, LogLevel.Error, "The outbox database source failed; the databases known before keep running, and it is asked again in {Delay}")]
    public static partial void SourceFailed(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(OutboxEventId.FleetActivityCheckFailed, LogLevel.Warning, "Reading the activity of the databases on {Server} failed; their relays find new rows by their own polls meanwhile")]
    public static partial void ActivityCheckFailed(ILogger logger, string server, Exception exception);

    [LoggerMessage(OutboxEventId.FleetDuplicateDatabase, LogLevel.Error, "The outbox database source returned the name {Database} more than once; the first entry is served, the others are ignored")]
    public static partial void DuplicateDatabase(ILogger logger, string database);

    [LoggerMessage(OutboxEventId.FleetSlotGivenBack, LogLevel.Information, "This instance streams {Mine} CDC slots on {Server}, more than its fair share of {Fair} among {Instances} instances: it gives the slot of database {Database} back to the others")]
    public static partial void SlotGivenBack(ILogger logger, string database, int mine, int fair, int instances, string server);

    [LoggerMessage(OutboxEventId.FleetPresenceFailed, LogLevel.Warning, "Counting the fleet's instances on {Server} failed; this instance takes that server's free CDC slots first come, first served meanwhile")]
    public static partial void PresenceFailed(ILogger logger, string server, Exception exception);
}
