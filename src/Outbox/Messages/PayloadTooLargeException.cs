namespace Outbox;

/// <summary>An event serialized to more bytes than <see cref="OutboxOptions.MaxPayloadBytes"/> allows; nothing was written.</summary>
public sealed class PayloadTooLargeException : OutboxException
{
    /// <summary>Initializes a new instance of the <see cref="PayloadTooLargeException"/> class.</summary>
    /// <param name="eventType">The CLR type of the event.</param>
    /// <param name="size">The serialized size in bytes.</param>
    /// <param name="limit">The configured limit in bytes.</param>
    public PayloadTooLargeException(Type eventType, int size, int limit)
        : base($"Event '{eventType?.FullName}' serialized to {size} bytes, over the limit of {limit} bytes (OutboxOptions.MaxPayloadBytes); nothing was written.")
    {
        ArgumentNullException.ThrowIfNull(eventType);
        EventType = eventType;
        Size = size;
        Limit = limit;
    }

    /// <summary>Gets the CLR type of the event.</summary>
    public Type EventType { get; }

    /// <summary>Gets the serialized size in bytes.</summary>
    public int Size { get; }

    /// <summary>Gets the configured limit in bytes.</summary>
    public int Limit { get; }
}
