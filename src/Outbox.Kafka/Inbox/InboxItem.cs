using System.Text;
using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>A record the inbox has read: what to do with it, the event and its handlers.</summary>
internal sealed class InboxItem
{
    public required InboxRecord Record { get; init; }

    public required InboxRecordKind Kind { get; init; }

    /// <summary>The deserialized event (<see cref="InboxRecordKind.Handle"/> only).</summary>
    public object? Event { get; init; }

    public IReadOnlyList<InboxSubscription> Handlers { get; init; } = [];

    /// <summary>Why it cannot be handled (<see cref="InboxRecordKind.DeadLetter"/> only).</summary>
    public DeadLetter? DeadLetter { get; init; }

    /// <summary>
    /// With tenant routing: the tenant whose database the record's inbox transaction, offset and parked rows go to
    /// (the routing header's value); <see langword="null"/>: the consumer's own database.
    /// </summary>
    public string? Tenant { get; init; }

    /// <summary>The same record with another kind (a record the tenant already handled is skipped; an unknown tenant's dead-lettered).</summary>
    public InboxItem As(InboxRecordKind kind, DeadLetter? deadLetter = null, string? tenant = null) =>
        new() { Record = Record, Kind = kind, Event = Event, Handlers = Handlers, DeadLetter = deadLetter, Tenant = tenant };

    public bool AllowsBatching => Kind switch
    {
        InboxRecordKind.Skip => true,
        InboxRecordKind.Handle => Handlers.All(h => h.AllowBatching),
        _ => false,
    };

    public MessageContext CreateContext(string consumerGroup, int attempt)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var header in Record.Headers)
        {
            headers[header.Key] = header.Value is null ? "" : Encoding.UTF8.GetString(header.Value);
        }

        return new MessageContext
        {
            Id = Record.Id!,
            Key = Record.Key is null ? null : Encoding.UTF8.GetString(Record.Key),
            Type = Record.Type!,
            Topic = Record.Topic,
            Partition = Record.Partition,
            Offset = Record.Offset,
            Timestamp = Record.Timestamp,
            ConsumerGroup = consumerGroup,
            Attempt = attempt,
            Headers = headers,
        };
    }
}
