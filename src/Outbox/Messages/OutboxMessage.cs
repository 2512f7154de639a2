namespace Outbox;

/// <summary>
/// One row of the outbox table: an event recorded in the same transaction as the business change that caused it.
/// </summary>
/// <remarks>
/// The column names follow Debezium's Outbox Event Router (<c>id</c>, <c>aggregatetype</c>, <c>aggregateid</c>,
/// <c>type</c>, <c>payload</c>), so every relay, Debezium's included, produces the same Kafka record from it.
/// Instances are created by the library; applications normally never construct one.
/// </remarks>
public sealed class OutboxMessage
{
    /// <summary>Gets or sets the event id: a version 7 UUID, sent as the Kafka header <c>id</c>.</summary>
    public Guid Id { get; set; }

    /// <summary>Gets or sets the aggregate type, which selects the Kafka topic.</summary>
    public string AggregateType { get; set; } = "";

    /// <summary>Gets or sets the aggregate id: the Kafka record key and the unit of ordering.</summary>
    public string AggregateId { get; set; } = "";

    /// <summary>Gets or sets the event type name, sent as a Kafka header.</summary>
    public string Type { get; set; } = "";

    /// <summary>Gets or sets the UTF-8 JSON payload, as text.</summary>
    /// <remarks>Stored as <c>jsonb</c>: PostgreSQL normalizes whitespace and key order.</remarks>
    public string Payload { get; set; } = "";

    /// <summary>Gets or sets the relay lane: a stable hash of <see cref="AggregateId"/> modulo the lane count.</summary>
    public int Lane { get; set; }

    /// <summary>Gets or sets the ordering sequence, assigned by the database when the transaction commits.</summary>
    /// <value><see langword="null"/> until the writing transaction commits.</value>
    public long? CommitSequence { get; set; }

    /// <summary>Gets or sets when the event was recorded.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Gets or sets the W3C <c>traceparent</c> of the activity that recorded the event.</summary>
    public string? TraceParent { get; set; }

    /// <summary>Gets or sets the W3C <c>tracestate</c> of the activity that recorded the event.</summary>
    public string? TraceState { get; set; }

    /// <summary>Gets or sets how many publish attempts failed so far.</summary>
    public int Attempts { get; set; }

    /// <summary>Gets or sets the error of the last failed publish attempt.</summary>
    public string? LastError { get; set; }

    /// <summary>Gets or sets the earliest time of the next publish attempt after a failure.</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>Gets or sets when the row was published (retention mode only; deleted rows never have it).</summary>
    public DateTimeOffset? PublishedAt { get; set; }
}
