namespace Outbox.PostgreSql;

/// <summary>Why a record is in the inbox's parked table.</summary>
public enum ParkedInboxRecordState
{
    /// <summary>The record failed for good (after <c>InboxConsumerOptions.MaxAttempts</c>, or at once when the database
    /// refused it); later records of its key in the partition are held behind it.</summary>
    Parked,

    /// <summary>A later record of a parked key, waiting in offset order behind it.</summary>
    Held,

    /// <summary>A record the inbox could not read (unknown type, malformed, no id) that the dead-letter topic refused;
    /// it holds nothing back.</summary>
    DeadLetter,
}
