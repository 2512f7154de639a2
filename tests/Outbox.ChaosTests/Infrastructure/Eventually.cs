using System.Diagnostics;

namespace Outbox.ChaosTests.Infrastructure;

/// <summary>Waits on a condition with a generous timeout: never a fixed sleep as synchronisation.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(90);
        var watch = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(10);
        while (!await condition())
        {
            if (watch.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0} s waiting until {because}.");
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }
}
