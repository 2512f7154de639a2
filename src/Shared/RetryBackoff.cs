namespace Outbox;

/// <summary>
/// The one backoff formula of the library (relays and inbox): base * 2^(failures-1), capped; with jitter, between half
/// and all of it. (A relay's retry of a failed key uses the same formula in SQL: ParkingSql.Fail.)
/// </summary>
internal static class RetryBackoff
{
    /// <summary>The delay after <paramref name="attempts"/> failures, with jitter.</summary>
    /// <param name="attempts">Failed attempts so far (1 after the first failure).</param>
    /// <param name="baseDelay">The delay after the first failure, before jitter.</param>
    /// <param name="maxDelay">The cap, before jitter.</param>
    /// <param name="jitter">A value in [0, 1): 0 gives half the delay, values near 1 the full delay.</param>
    public static TimeSpan Compute(int attempts, TimeSpan baseDelay, TimeSpan maxDelay, double jitter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        var withJitter = Capped(attempts, baseDelay, maxDelay) * (0.5 + (0.5 * Math.Clamp(jitter, 0, 1)));
        return TimeSpan.FromTicks((long)Math.Max(withJitter, 1));
    }

    /// <summary>The delay after <paramref name="failures"/> failures, without jitter; zero before the first failure.</summary>
    public static TimeSpan Delay(int failures, TimeSpan initial, TimeSpan max) =>
        failures < 1 || initial <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks((long)Capped(failures, initial, max));

    private static double Capped(int failures, TimeSpan baseDelay, TimeSpan maxDelay) =>
        Math.Min(baseDelay.Ticks * Math.Pow(2, Math.Min(failures - 1, 30)), maxDelay.Ticks);
}
