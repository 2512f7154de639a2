namespace Outbox.Testing.Tests;

internal sealed record ConsumedRecord(string Key, string Value, int Partition, long Offset);
