using System.Diagnostics;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>Progress lines on stderr (stdout carries only the JSON result lines).</summary>
internal static class Progress
{
    private static readonly long Started = Stopwatch.GetTimestamp();

    public static void Line(string text) =>
        Console.Error.WriteLine(Fmt.Inv($"[{Stopwatch.GetElapsedTime(Started).TotalSeconds,7:0.0}s] {text}"));

    /// <summary>Prints <paramref name="describe"/> once a second until disposed.</summary>
    public static IAsyncDisposable Every(TimeSpan period, Func<string> describe) => new Ticker(period, describe);

    private sealed class Ticker : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public Ticker(TimeSpan period, Func<string> describe)
        {
            _loop = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(period);
                try
                {
                    while (await timer.WaitForNextTickAsync(_stop.Token))
                    {
                        Line(describe());
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }
}
