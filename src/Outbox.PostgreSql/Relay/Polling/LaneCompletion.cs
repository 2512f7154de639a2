namespace Outbox.Relay;

/// <summary>What a drain cycle's completion did: the lanes whose lease still held, and each key failure's outcome.</summary>
/// <param name="HeldLanes">The lanes whose lease held (their rows were removed and failures recorded).</param>
/// <param name="Outcomes">Per failure, in the order given; <see langword="null"/> when its lease did not hold.</param>
internal sealed record LaneCompletion(IReadOnlySet<int> HeldLanes, IReadOnlyList<KeyFailureOutcome?> Outcomes);
