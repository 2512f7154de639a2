namespace Outbox.PostgreSql;

/// <summary>A row of the relay's dead-letter table.</summary>
internal sealed record DeadLetterRow(
    Guid Id,
    string AggregateType,
    string AggregateId,
    string Type,
    string Payload,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset DeadLetteredAt);
