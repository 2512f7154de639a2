namespace Outbox.Inbox;

/// <summary>An inbox row to insert: the event id and the offset it was read at.</summary>
internal readonly record struct InboxEntry(string MessageId, long Offset);
