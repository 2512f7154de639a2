namespace Outbox.Inbox;

/// <summary>Why a record was dead-lettered; sent in the dead-letter record's headers.</summary>
internal static class DeadLetterReason
{
    public const string HandlerFailed = "handler-failed";
    public const string UnknownEventType = "unknown-event-type";
    public const string MalformedPayload = "malformed-payload";
    public const string MissingId = "missing-id";
    public const string UnknownTenant = "unknown-tenant";
}
