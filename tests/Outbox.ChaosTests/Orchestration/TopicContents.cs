namespace Outbox.ChaosTests.Orchestration;

/// <summary>Every record of a topic, by partition and offset; <see cref="Truncated"/> names partitions whose start was dropped.</summary>
public sealed record TopicContents(IReadOnlyList<KafkaRecord> Records, IReadOnlyList<int> Truncated);
