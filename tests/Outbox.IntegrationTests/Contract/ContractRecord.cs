namespace Outbox.IntegrationTests.Contract;

/// <summary>One record read back from the contract topic: the event's key and token, and where it landed.</summary>
public sealed record ContractRecord(string Key, int Token, Guid Id, int Partition, long Offset);
