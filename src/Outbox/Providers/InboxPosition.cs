namespace Outbox.Providers;

/// <summary>The next offset to read from a partition, for a consumer group. For provider packages; applications do not call this.</summary>
/// <param name="ConsumerGroup">The consumer group.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition.</param>
/// <param name="NextOffset">The offset of the next record to read.</param>
public readonly record struct InboxPosition(string ConsumerGroup, string Topic, int Partition, long NextOffset);
