namespace Outbox;

/// <summary>Where an event handled by an <see cref="IInboxHandler{TEvent}"/> came from.</summary>
/// <remarks>Public with init-only properties so that handler unit tests can build one.</remarks>
public sealed class MessageContext
{
    /// <summary>Gets the event id (the record's <c>id</c> header): the inbox deduplicates on it.</summary>
    public required string Id { get; init; }

    /// <summary>Gets the record key (the aggregate id), or <see langword="null"/> when the record has none.</summary>
    public string? Key { get; init; }

    /// <summary>Gets the event type name (the record's <c>type</c> header).</summary>
    public required string Type { get; init; }

    /// <summary>Gets the topic the record was read from.</summary>
    public required string Topic { get; init; }

    /// <summary>Gets the partition the record was read from.</summary>
    public int Partition { get; init; }

    /// <summary>Gets the offset of the record in its partition.</summary>
    public long Offset { get; init; }

    /// <summary>Gets the record's timestamp.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets the consumer group that handles the record.</summary>
    public required string ConsumerGroup { get; init; }

    /// <summary>Gets the attempt number: 1 the first time, higher when earlier attempts failed.</summary>
    public int Attempt { get; init; } = 1;

    /// <summary>Gets the record headers, decoded as UTF-8; when a name repeats, the last value wins.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
