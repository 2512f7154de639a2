namespace Outbox.Inbox;

/// <summary>A record as the transport delivered it, before the inbox looks at it.</summary>
internal sealed class InboxRecord
{
    public required string Topic { get; init; }

    public int Partition { get; init; }

    public long Offset { get; init; }

    /// <summary>The <c>id</c> header, or <see langword="null"/> when missing.</summary>
    public string? Id { get; init; }

    /// <summary>The <c>type</c> header, or <see langword="null"/> when missing.</summary>
    public string? Type { get; init; }

    public byte[]? Key { get; init; }

    public byte[]? Value { get; init; }

    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Every header in record order (names may repeat).</summary>
    public IReadOnlyList<KeyValuePair<string, byte[]?>> Headers { get; init; } = [];
}
