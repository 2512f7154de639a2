namespace Outbox.Relay;

/// <summary>What happened to one message of a publish call.</summary>
internal enum PublishStatus
{
    /// <summary>The broker acknowledged it (acks=all).</summary>
    Acknowledged,

    /// <summary>It failed; the error says why.</summary>
    Failed,

    /// <summary>It was not sent because an earlier message of the batch failed before being sent.</summary>
    NotAttempted,
}
