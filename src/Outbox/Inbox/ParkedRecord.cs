namespace Outbox.Inbox;

/// <summary>A row of the inbox's parked table: the record as it was read and why it is there.</summary>
internal sealed record ParkedRecord
{
    public required InboxRecord Record { get; init; }

    /// <summary>One of <see cref="ParkedState"/>.</summary>
    public required string State { get; init; }

    /// <summary>One of <see cref="DeadLetterReason"/> or <see cref="ParkReason"/>.</summary>
    public required string Reason { get; init; }

    public string? ErrorType { get; init; }

    public string? Error { get; init; }

    public int Attempts { get; init; }

    public DateTimeOffset ParkedAt { get; init; }
}
