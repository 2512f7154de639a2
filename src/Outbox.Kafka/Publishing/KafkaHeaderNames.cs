namespace Outbox.Kafka;

/// <summary>Header names of an outbox record (docs/architecture.md, "The contract": the same whichever relay sends it).</summary>
internal static class KafkaHeaderNames
{
    /// <summary>The event id: the row's uuid as its canonical string, UTF-8.</summary>
    public const string Id = "id";

    /// <summary>The event type name, UTF-8.</summary>
    public const string Type = "type";

    /// <summary>The W3C trace parent of the activity that recorded the event, when there was one.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>The W3C trace state of the activity that recorded the event, when there was one.</summary>
    public const string TraceState = "tracestate";

    /// <summary>The name of the database the record came from, UTF-8, when the relay serves many (<c>UsePostgreSqlDatabases</c>).</summary>
    public const string Database = "outbox-database";
}
