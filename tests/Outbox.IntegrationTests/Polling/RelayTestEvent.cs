namespace Outbox.IntegrationTests.Polling;

/// <summary>The event of the relay tests: <see cref="Seq"/> counts up per <see cref="Key"/> in commit order.</summary>
public sealed record RelayTestEvent(string Key, int Seq, string? Pad = null);
