namespace Outbox;

/// <summary>An event of a CLR type that has no <see cref="OutboxOptions.MapEvent{TEvent}"/> mapping was enqueued; nothing was written.</summary>
public sealed class UnmappedEventException : OutboxException
{
    /// <summary>Initializes a new instance of the <see cref="UnmappedEventException"/> class.</summary>
    /// <param name="eventType">The CLR type that is not mapped.</param>
    public UnmappedEventException(Type eventType)
        : base($"Event type '{eventType?.FullName}' is not mapped: call OutboxOptions.MapEvent<{eventType?.Name}>(aggregateType, e => e.Key) in AddOutbox. Nothing was written.")
    {
        ArgumentNullException.ThrowIfNull(eventType);
        EventType = eventType;
    }

    /// <summary>Gets the CLR type that is not mapped.</summary>
    public Type EventType { get; }
}
