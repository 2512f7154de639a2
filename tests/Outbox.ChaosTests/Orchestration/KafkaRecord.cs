namespace Outbox.ChaosTests.Orchestration;

/// <summary>A record read back from a topic: where it is, its key, its <c>id</c> and <c>type</c> headers and its value.</summary>
public sealed record KafkaRecord(int Partition, long Offset, string? Key, string? Id, string? Type, byte[]? Value)
{
    /// <summary>Gets every header, decoded as UTF-8 (the last value of a repeated name).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
}
