namespace Outbox.Relay;

/// <summary>Which relay a measurement comes from (the <c>outbox.relay.type</c> tag).</summary>
internal enum RelayKind
{
    Polling,
    Cdc,
}
