namespace Outbox.ChaosTests.Orchestration;

/// <summary>What <see cref="RunVerifier"/> found when it compared what committed, what Kafka holds and what took effect.</summary>
public sealed record RunFindings
{
    public long Committed { get; init; }

    public long KafkaRecords { get; init; }

    /// <summary>Gets committed events that are not in Kafka.</summary>
    public long Lost { get; init; }

    /// <summary>Gets events in Kafka that never committed (rolled back, or never written).</summary>
    public long Phantoms { get; init; }

    /// <summary>Gets records of an event that was already in Kafka (at least once allows them).</summary>
    public long DuplicatesInKafka { get; init; }

    /// <summary>
    /// Gets the duplicates that arrive after a later event of the same key (a consumer without an inbox sees the key's
    /// state go backwards): a zombie relay's stale batch behind the new owner's newer events, and also a new owner's
    /// re-send of a batch the previous owner had published but not yet removed.
    /// </summary>
    public long StaleResends { get; init; }

    /// <summary>Gets first occurrences whose version is not above the key's previous first occurrence.</summary>
    public long OrderViolations { get; init; }

    /// <summary>Gets records that are not a readable event with an <c>id</c> header.</summary>
    public long Unreadable { get; init; }

    /// <summary>Gets records whose key, partition, version or <c>id</c> header disagree with the event's other records or with the writer's table.</summary>
    public long Mismatches { get; init; }

    /// <summary>Gets committed events a consumer group has no effect of.</summary>
    public long MissingEffects { get; init; }

    /// <summary>Gets effects beyond the first (an effect row counted twice adds one).</summary>
    public long DoubleEffects { get; init; }

    /// <summary>Gets effects of events that never committed.</summary>
    public long PhantomEffects { get; init; }

    /// <summary>Gets up to 20 of the lost events.</summary>
    public IReadOnlyList<Guid> LostSample { get; init; } = [];

    /// <summary>Gets up to 20 of the stale re-sends (at least once allows them: they are not problems).</summary>
    public IReadOnlyList<string> StaleResendExamples { get; init; } = [];

    /// <summary>Gets up to 20 examples of the problems above.</summary>
    public IReadOnlyList<string> Examples { get; init; } = [];
}
