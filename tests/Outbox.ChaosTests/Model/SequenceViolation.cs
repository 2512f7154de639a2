namespace Outbox.ChaosTests.Model;

/// <summary>A handled event whose version was not the one after the last handled version of its aggregate.</summary>
public sealed class SequenceViolation
{
    public long Id { get; set; }

    public string ConsumerGroup { get; set; } = "";

    public string AggregateId { get; set; } = "";

    public long Expected { get; set; }

    public long Got { get; set; }

    public Guid ChaosId { get; set; }

    public int Partition { get; set; }

    public long Offset { get; set; }
}
