namespace Outbox.Providers;

/// <summary>
/// An outbox row as a relay read it and hands it to an <see cref="IOutboxPublisher"/>: immutable, so that a publisher,
/// the relay's settlement and its telemetry all see the same values. For provider packages; applications do not use
/// this (they write events through <c>IOutbox</c> and the EF entity <see cref="OutboxRecord"/>).
/// </summary>
/// <remarks>
/// A class with init-only properties rather than a positional record: relays keep records by reference (batches, held
/// keys), and value equality over the payload would cost for nothing.
/// </remarks>
public sealed class OutboxRecord
{
    /// <summary>Gets the event id (column <c>id</c>), sent as the Kafka header <c>id</c>.</summary>
    public Guid Id { get; init; }

    /// <summary>Gets the aggregate type (column <c>aggregatetype</c>), which selects the topic.</summary>
    public string AggregateType { get; init; } = "";

    /// <summary>Gets the aggregate id (column <c>aggregateid</c>): the record key and the unit of ordering.</summary>
    public string AggregateId { get; init; } = "";

    /// <summary>Gets the event type name (column <c>type</c>), sent as a header.</summary>
    public string Type { get; init; } = "";

    /// <summary>Gets the UTF-8 JSON payload (column <c>payload</c>), as text.</summary>
    public string Payload { get; init; } = "";

    /// <summary>Gets the row's lane (column <c>lane</c>).</summary>
    public int Lane { get; init; }

    /// <summary>Gets the commit sequence (column <c>commit_seq</c>); <see langword="null"/> when the relay does not read it.</summary>
    public long? CommitSequence { get; init; }

    /// <summary>Gets when the event was recorded (column <c>created_at</c>).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets the W3C <c>traceparent</c> of the activity that recorded the event, if any.</summary>
    public string? TraceParent { get; init; }

    /// <summary>Gets the W3C <c>tracestate</c> of the activity that recorded the event, if any.</summary>
    public string? TraceState { get; init; }

    /// <summary>Gets how many publish attempts of the row failed before this one (column <c>attempts</c>).</summary>
    public int Attempts { get; init; }

    /// <summary>
    /// Gets the name of the database the relay read the row from when it serves many (<c>UsePostgreSqlDatabases</c>),
    /// sent as the Kafka header <c>outbox-database</c>; <see langword="null"/> with one database (no header).
    /// </summary>
    public string? Database { get; init; }
}
