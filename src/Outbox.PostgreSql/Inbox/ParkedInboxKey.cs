namespace Outbox.PostgreSql;

/// <summary>A key of a consumer group's partition that has records in the inbox's parked table, and its first record.</summary>
public sealed class ParkedInboxKey
{
    /// <summary>Gets the consumer group.</summary>
    public required string ConsumerGroup { get; init; }

    /// <summary>Gets the topic.</summary>
    public required string Topic { get; init; }

    /// <summary>Gets the partition.</summary>
    public required int Partition { get; init; }

    /// <summary>Gets the Kafka record key: its UTF-8 text, or <c>base64:</c> and its bytes in base64 when it is not valid
    /// UTF-8 (or would start with <c>base64:</c>); <see langword="null"/> for records without a key (each parks only itself).
    /// Pass it as is to <see cref="InboxParking.GetAsync"/>, <see cref="InboxParking.ReplayAsync"/> and <see cref="InboxParking.DiscardAsync"/>.</summary>
    public required string? Key { get; init; }

    /// <summary>Gets the offset of the key's first record in the table (the parked one, unless it was discarded).</summary>
    public required long HeadOffset { get; init; }

    /// <summary>Gets the state of the first record.</summary>
    public required ParkedInboxRecordState HeadState { get; init; }

    /// <summary>Gets the <c>id</c> header of the first record (U+FFFD in place of NUL characters), if it had one.</summary>
    public string? MessageId { get; init; }

    /// <summary>Gets the <c>type</c> header of the first record, if it had one.</summary>
    public string? Type { get; init; }

    /// <summary>Gets why the first record is there: <c>handler-failed</c>, <c>rejected</c> (the database refused it),
    /// <c>unknown-event-type</c>, <c>malformed-payload</c>, <c>missing-id</c>, or <c>key-parked</c> (held).</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the error of the first record's last attempt (and the dead-letter topic's refusal, if any).</summary>
    public string? Error { get; init; }

    /// <summary>Gets how many attempts the first record had (0 when none could be made).</summary>
    public required int Attempts { get; init; }

    /// <summary>Gets when the first record was stored.</summary>
    public required DateTimeOffset ParkedAt { get; init; }

    /// <summary>Gets how many more records of the key are in the table (held behind the first one).</summary>
    public required long HeldCount { get; init; }

    /// <summary>Gets a value indicating whether a replay was asked for and the partition's owner has not finished it yet.</summary>
    public required bool ReplayRequested { get; init; }
}
