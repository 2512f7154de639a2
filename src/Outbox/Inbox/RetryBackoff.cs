namespace Outbox.Inbox;

/// <summary>Exponential backoff: the initial delay, doubled after each failure, capped.</summary>
internal static class RetryBackoff
{
    public static TimeSpan Delay(int failures, TimeSpan initial, TimeSpan max)
    {
        if (failures < 1 || initial <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        // 2^30 * initial overflows nothing that matters once capped; stop doubling early.
        var exponent = Math.Min(failures - 1, 30);
        var ticks = initial.Ticks * Math.Pow(2, exponent);
        return ticks >= max.Ticks ? max : TimeSpan.FromTicks((long)ticks);
    }
}
