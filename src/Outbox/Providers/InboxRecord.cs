namespace Outbox.Providers;

/// <summary>A record as the transport delivered it, before the inbox looks at it. For provider packages; applications do not call this.</summary>
public sealed class InboxRecord
{
    /// <summary>Gets the topic the record was read from.</summary>
    public required string Topic { get; init; }

    /// <summary>Gets the partition the record was read from.</summary>
    public int Partition { get; init; }

    /// <summary>Gets the record's offset.</summary>
    public long Offset { get; init; }

    /// <summary>Gets the <c>id</c> header, or <see langword="null"/> when missing.</summary>
    public string? Id { get; init; }

    /// <summary>Gets the <c>type</c> header, or <see langword="null"/> when missing.</summary>
    public string? Type { get; init; }

    /// <summary>Gets the record key, if any.</summary>
    public byte[]? Key { get; init; }

    /// <summary>Gets the record value, if any.</summary>
    public byte[]? Value { get; init; }

    /// <summary>Gets the record's timestamp.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets every header in record order (names may repeat).</summary>
    public IReadOnlyList<KeyValuePair<string, byte[]?>> Headers { get; init; } = [];
}
