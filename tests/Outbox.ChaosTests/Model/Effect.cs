namespace Outbox.ChaosTests.Model;

/// <summary>A consumer group's effect of one event: a second effect of the same event adds to <see cref="Count"/>.</summary>
public sealed class Effect
{
    public string ConsumerGroup { get; set; } = "";

    public Guid ChaosId { get; set; }

    public string AggregateId { get; set; } = "";

    public long Version { get; set; }

    public int Count { get; set; }

    /// <summary>The record's <c>id</c> header (the outbox row id) that took effect first.</summary>
    public string EventId { get; set; } = "";
}
