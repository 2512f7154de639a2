namespace Outbox.Providers;

/// <summary>Why a record failed, as far as the transport can tell: decides whether the failure counts against the record. For provider packages; applications do not call this.</summary>
public enum PublishFailureKind
{
    /// <summary>The record may be at fault (an error the transport cannot attribute): counts as an attempt of the record.</summary>
    Record,

    /// <summary>
    /// Not the record's fault (broker unreachable, timeouts, leader changes, a full queue): retried with backoff and never
    /// counted against the record.
    /// </summary>
    Transient,

    /// <summary>The record can never be published as it is (too large, invalid topic, not authorized): parked at once.</summary>
    Permanent,
}
