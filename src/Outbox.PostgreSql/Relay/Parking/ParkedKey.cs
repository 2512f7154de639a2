namespace Outbox.PostgreSql;

/// <summary>Whether a held key waits for an automatic retry or for an operator.</summary>
public enum ParkedKeyState
{
    /// <summary>Its event failed and is tried again at <see cref="ParkedKey.RetryAt"/>; meanwhile the key's events wait.</summary>
    Retrying,

    /// <summary>Its event failed for good (a permanent error, or <c>MaxAttempts</c> used up): the key's events wait until an
    /// operator replays or discards it.</summary>
    Parked,
}

/// <summary>
/// A key (aggregate type and id) whose events a relay holds back: the event that failed and every later event of the key
/// wait in the outbox table, in order, while every other key flows.
/// </summary>
public sealed record ParkedKey
{
    /// <summary>Gets the aggregate type of the key.</summary>
    public required string AggregateType { get; init; }

    /// <summary>Gets the aggregate id of the key (the Kafka record key).</summary>
    public required string AggregateId { get; init; }

    /// <summary>Gets the lane of the key (polling relay).</summary>
    public required int Lane { get; init; }

    /// <summary>Gets the id of the event that failed: the first of the key's waiting events.</summary>
    public required Guid MessageId { get; init; }

    /// <summary>Gets the event type of <see cref="MessageId"/>, or <see langword="null"/> when the event is no longer in the outbox table.</summary>
    public string? MessageType { get; init; }

    /// <summary>Gets how many times publishing <see cref="MessageId"/> failed.</summary>
    public required int Attempts { get; init; }

    /// <summary>Gets the last error.</summary>
    public string? LastError { get; init; }

    /// <summary>Gets whether the key retries automatically or waits for an operator.</summary>
    public required ParkedKeyState State { get; init; }

    /// <summary>Gets when the key is tried again (<see cref="ParkedKeyState.Retrying"/> only).</summary>
    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>Gets when the key was parked (<see cref="ParkedKeyState.Parked"/> only).</summary>
    public DateTimeOffset? ParkedAt { get; init; }

    /// <summary>Gets when the key's state last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Gets how many events of the key wait in the outbox table, the failed one included.</summary>
    public required int WaitingEvents { get; init; }
}
