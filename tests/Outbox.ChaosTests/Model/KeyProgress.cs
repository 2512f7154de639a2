namespace Outbox.ChaosTests.Model;

/// <summary>The last version of an aggregate a consumer group handled: the next one must be exactly one more.</summary>
public sealed class KeyProgress
{
    public string ConsumerGroup { get; set; } = "";

    public string AggregateId { get; set; } = "";

    public long LastVersion { get; set; }
}
