namespace Outbox.ChaosTests.Orchestration;

/// <summary>A consumer group's effect row: <see cref="Count"/> is 1 when the event took effect exactly once.</summary>
public sealed record EffectRow(string Group, Guid ChaosId, string Key, long Version, int Count);
