namespace Outbox.Relay;

/// <summary>What a lane should do after one drain iteration.</summary>
internal enum DrainOutcomeKind
{
    /// <summary>The lane is empty (or its last batch was short): wait for a notification or the poll.</summary>
    Idle,

    /// <summary>The batch was full or a row was dead-lettered: drain again.</summary>
    More,

    /// <summary>The lane stopped at a failed row (or could not be read): try again after <see cref="DrainOutcome.Delay"/>.</summary>
    RetryLater,

    /// <summary>The lease was taken over: drop the lane.</summary>
    LeaseLost,
}

/// <summary>The result of one drain iteration of a lane.</summary>
/// <param name="Kind">What to do next.</param>
/// <param name="Delay">For <see cref="DrainOutcomeKind.RetryLater"/>, how long to wait.</param>
/// <param name="Published">Rows acknowledged by Kafka and removed (or marked) in this iteration.</param>
internal readonly record struct DrainOutcome(DrainOutcomeKind Kind, TimeSpan Delay = default, int Published = 0)
{
    public static DrainOutcome Idle(int published = 0) => new(DrainOutcomeKind.Idle, default, published);

    public static DrainOutcome More(int published) => new(DrainOutcomeKind.More, default, published);

    public static DrainOutcome RetryLater(TimeSpan delay, int published = 0) => new(DrainOutcomeKind.RetryLater, delay, published);

    public static DrainOutcome LeaseLost { get; } = new(DrainOutcomeKind.LeaseLost);
}
