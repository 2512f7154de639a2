namespace Outbox.IntegrationTests.Polling;

/// <summary>One record read back from Kafka.</summary>
public sealed record PublishedRecord(string Key, int Seq, Guid Id, string Type, int Partition, long Offset, IReadOnlyDictionary<string, string> Headers);
