using System.Diagnostics;

namespace Outbox.TestSupport;

/// <summary>Waits on a condition with a generous timeout: never a fixed sleep as synchronisation.</summary>
public static class Eventually
{
    /// <summary>The deadline when a test gives none: generous, because a deadline only bounds how long a failing test
    /// takes to report (the chaos tests share the two-core machine with up to eight processes).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(90);

    public static async Task TrueAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var limit = timeout ?? DefaultTimeout;
        var watch = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(10);
        while (!await condition().ConfigureAwait(false))
        {
            if (watch.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0} s waiting until {because}.");
            }

            await Task.Delay(delay).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    public static Task TrueAsync(Func<bool> condition, string because, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return TrueAsync(() => Task.FromResult(condition()), because, timeout);
    }
}
