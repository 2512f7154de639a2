namespace Outbox.Relay;

/// <summary>A lease on one lane: the lane and the epoch this instance got it with (the fencing token).</summary>
/// <param name="Lane">The lane number.</param>
/// <param name="Epoch">The epoch of the lease: bumped on every acquisition, so an older holder's writes change nothing.</param>
internal readonly record struct LaneLease(int Lane, long Epoch);
