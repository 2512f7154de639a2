namespace Outbox;

/// <summary>Thrown by <see cref="InvalidUtf16DetectingEncoder"/> inside serialization; turned into an <see cref="OutboxException"/> naming the event.</summary>
internal sealed class InvalidUtf16Exception : Exception
{
    public InvalidUtf16Exception()
    {
    }

    public InvalidUtf16Exception(string message)
        : base(message)
    {
    }

    public InvalidUtf16Exception(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
