namespace Outbox.Providers;

/// <summary>What happened to one record of an <see cref="IOutboxPublisher"/> call. For provider packages; applications do not call this.</summary>
public enum PublishStatus
{
    /// <summary>The broker acknowledged it (acks=all).</summary>
    Acknowledged,

    /// <summary>It failed; the error says why.</summary>
    Failed,

    /// <summary>It was not sent because an earlier message of the batch failed before being sent.</summary>
    NotAttempted,
}
