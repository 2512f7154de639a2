namespace Outbox.Relay;

/// <summary>Exponential backoff with jitter for failed rows: base * 2^(attempts-1), capped, then between half and all of it.</summary>
internal static class RetryBackoff
{
    /// <param name="attempts">Failed attempts so far (1 after the first failure).</param>
    /// <param name="baseDelay">The delay after the first failure, before jitter.</param>
    /// <param name="maxDelay">The cap, before jitter.</param>
    /// <param name="jitter">A value in [0, 1): 0 gives half the delay, values near 1 the full delay.</param>
    public static TimeSpan Compute(int attempts, TimeSpan baseDelay, TimeSpan maxDelay, double jitter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        var exponent = Math.Min(attempts - 1, 62);
        var ticks = baseDelay.Ticks * Math.Pow(2, exponent);
        var capped = Math.Min(ticks, maxDelay.Ticks);
        var withJitter = capped * (0.5 + (0.5 * Math.Clamp(jitter, 0, 1)));
        return TimeSpan.FromTicks((long)Math.Max(withJitter, 1));
    }
}
