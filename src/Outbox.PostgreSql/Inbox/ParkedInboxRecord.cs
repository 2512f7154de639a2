namespace Outbox.PostgreSql;

/// <summary>A record in the inbox's parked table.</summary>
public sealed class ParkedInboxRecord
{
    /// <summary>Gets the record's offset in its partition.</summary>
    public required long Offset { get; init; }

    /// <summary>Gets the record's state.</summary>
    public required ParkedInboxRecordState State { get; init; }

    /// <summary>Gets the <c>id</c> header (U+FFFD in place of NUL characters), if it had one.</summary>
    public string? MessageId { get; init; }

    /// <summary>Gets the <c>type</c> header, if it had one.</summary>
    public string? Type { get; init; }

    /// <summary>Gets the record's value as UTF-8 text, or <c>base64:</c> and its bytes in base64 when it is not valid UTF-8;
    /// <see langword="null"/> when it had none.</summary>
    public string? Value { get; init; }

    /// <summary>Gets why the record is there (see <see cref="ParkedInboxKey.Reason"/>).</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the exception type (or error code) of the last attempt, if any.</summary>
    public string? ErrorType { get; init; }

    /// <summary>Gets the error of the last attempt (and the dead-letter topic's refusal, if any).</summary>
    public string? Error { get; init; }

    /// <summary>Gets how many attempts the record had.</summary>
    public required int Attempts { get; init; }

    /// <summary>Gets when the record was stored (or parked again by a replay).</summary>
    public required DateTimeOffset ParkedAt { get; init; }
}
