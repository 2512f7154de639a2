namespace Outbox;

/// <summary>An outbox operation failed for a reason the caller can act on; the message names the cause.</summary>
public class OutboxException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="OutboxException"/> class.</summary>
    public OutboxException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="OutboxException"/> class with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public OutboxException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="OutboxException"/> class with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The underlying error.</param>
    public OutboxException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
