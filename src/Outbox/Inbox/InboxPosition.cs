namespace Outbox.Inbox;

/// <summary>The next offset to read from a partition, for a consumer group.</summary>
internal readonly record struct InboxPosition(string ConsumerGroup, string Topic, int Partition, long NextOffset);
