namespace Outbox;

/// <summary>
/// One row of the outbox table: an event recorded in the same transaction as the business change that caused it.
/// </summary>
/// <remarks>
/// The column names follow Debezium's Outbox Event Router (<c>id</c>, <c>aggregatetype</c>, <c>aggregateid</c>,
/// <c>type</c>, <c>payload</c>), so every relay, Debezium's included, produces the same Kafka record from it.
/// Instances are created by the library; applications normally never construct one. The relay's bookkeeping (lane,
/// commit sequence, attempts, errors, publish time) is set by the library and the database only: EF Core materializes
/// it through the non-public setters. Relays read rows as <see cref="Providers.OutboxRecord"/>, not as this entity.
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

    /// <summary>Gets the relay lane: a stable hash of <see cref="AggregateId"/> modulo the lane count.</summary>
    public int Lane { get; internal set; }

    /// <summary>Gets the ordering sequence, assigned by the database when the transaction commits.</summary>
    /// <value><see langword="null"/> until the writing transaction commits.</value>
    public long? CommitSequence { get; internal set; }

    /// <summary>Gets or sets when the event was recorded.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Gets or sets the W3C <c>traceparent</c> of the activity that recorded the event.</summary>
    public string? TraceParent { get; set; }

    /// <summary>Gets or sets the W3C <c>tracestate</c> of the activity that recorded the event.</summary>
    public string? TraceState { get; set; }

    /// <summary>Gets how many publish attempts failed so far.</summary>
    public int Attempts { get; internal set; }

    /// <summary>Gets the error of the last failed publish attempt.</summary>
    public string? LastError { get; internal set; }

    /// <summary>Gets the earliest time of the next publish attempt after a failure.</summary>
    public DateTimeOffset? NextAttemptAt { get; internal set; }

    /// <summary>Gets when the row was published (retention mode only; deleted rows never have it).</summary>
    public DateTimeOffset? PublishedAt { get; internal set; }
}
