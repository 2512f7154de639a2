namespace Outbox.PostgreSql;

/// <summary>A row of the relay's dead-letter table, as <see cref="OutboxAdministration"/> reads it.</summary>
/// <param name="Id">The event id (the outbox row's <c>id</c>).</param>
/// <param name="AggregateType">The row's <c>aggregatetype</c>.</param>
/// <param name="AggregateId">The row's <c>aggregateid</c> (the Kafka key).</param>
/// <param name="Type">The event type name.</param>
/// <param name="Payload">The JSON payload, as text.</param>
/// <param name="Attempts">How many times the relay tried to publish the row.</param>
/// <param name="LastError">The last publish error, if one was recorded.</param>
/// <param name="CreatedAt">When the row was written to the outbox.</param>
/// <param name="DeadLetteredAt">When the relay moved the row to the dead-letter table.</param>
public sealed record DeadLetterRow(
    Guid Id,
    string AggregateType,
    string AggregateId,
    string Type,
    string Payload,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset DeadLetteredAt);
