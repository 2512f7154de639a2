namespace Outbox;

/// <summary>The outbox configuration is invalid; the message names the setting.</summary>
public sealed class OutboxConfigurationException : OutboxException
{
    /// <summary>Initializes a new instance of the <see cref="OutboxConfigurationException"/> class.</summary>
    /// <param name="message">What is wrong, naming the setting.</param>
    public OutboxConfigurationException(string message)
        : base(message)
    {
    }
}
