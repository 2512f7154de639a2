namespace Outbox.Inbox;

/// <summary>What the inbox does with a record.</summary>
internal enum InboxRecordKind
{
    /// <summary>Handled by the group's handlers in a transaction.</summary>
    Handle,

    /// <summary>A known event type this group has no handler for: only its offset advances.</summary>
    Skip,

    /// <summary>Cannot be handled (unknown type, malformed payload, no id): goes to the dead-letter topic at once.</summary>
    DeadLetter,
}
