namespace Outbox.IntegrationTests.Cdc;

/// <summary>The event the CDC tests write: a key and its sequence number within that key.</summary>
public sealed record CdcTestEvent(string Key, int Seq, string? Text = null);
