namespace Outbox.ChaosTests.Orchestration;

/// <summary>An event a writer committed, from the writers' tables.</summary>
public sealed record CommittedEvent(Guid ChaosId, string Key, long Version, int Writer);
