namespace Outbox.Providers;

/// <summary>An inbox row to insert: the event id and the offset it was read at. For provider packages; applications do not call this.</summary>
/// <param name="MessageId">The event id (the record's <c>id</c> header).</param>
/// <param name="Offset">The offset the record was read at.</param>
public readonly record struct InboxEntry(string MessageId, long Offset);
