namespace Outbox.Inbox;

/// <summary>How the inbox treats an error of a record's transaction (inbox insert, handlers, save, commit).</summary>
internal enum InboxFailureKind
{
    /// <summary>Says nothing about the record (connection loss, failover, serialization failure, deadlock): retried with backoff, never counted.</summary>
    Transient,

    /// <summary>The database refuses the record itself (a data error, class 22; an integrity violation, class 23; an index row too large): parked at once.</summary>
    Permanent,

    /// <summary>Anything else: counts as an attempt; parked after <see cref="InboxSettings.MaxAttempts"/>.</summary>
    Attempt,
}
