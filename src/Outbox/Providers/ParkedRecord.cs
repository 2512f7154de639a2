namespace Outbox.Providers;

/// <summary>A row of the inbox's parked table: the record as it was read and why it is there. For provider packages; applications do not call this.</summary>
public sealed record ParkedRecord
{
    /// <summary>Gets the record as the transport delivered it.</summary>
    public required InboxRecord Record { get; init; }

    /// <summary>Gets the row's state: one of <see cref="ParkedState"/>'s values (<c>parked</c>, <c>held</c> or <c>dead_letter</c>).</summary>
    public required string State { get; init; }

    /// <summary>Gets why the record is there (a dead-letter or park reason code).</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the exception type (or a short error code) of the last failure, if any.</summary>
    public string? ErrorType { get; init; }

    /// <summary>Gets the message of the last failure, if any.</summary>
    public string? Error { get; init; }

    /// <summary>Gets how many handling attempts were made.</summary>
    public int Attempts { get; init; }

    /// <summary>Gets when the row was stored.</summary>
    public DateTimeOffset ParkedAt { get; init; }
}
