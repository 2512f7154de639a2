using System.Collections.Concurrent;
using System.Diagnostics;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>
/// Sums the time of every Npgsql command of this process by statement (Npgsql's <c>ActivitySource</c>), so a run can
/// say how much of its wall time the relay spent waiting on PostgreSQL, and on which statement.
/// </summary>
internal sealed class DbCommandProfiler : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentDictionary<string, Totals> _byStatement = new(StringComparer.Ordinal);

    public DbCommandProfiler()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = Stopped,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Statement (first 90 characters, whitespace collapsed), calls and total seconds, longest first.</summary>
    public IReadOnlyList<(string Statement, long Calls, double Seconds)> Snapshot() =>
        [.. _byStatement.Select(p => (p.Key, p.Value.Calls, p.Value.Seconds)).OrderByDescending(x => x.Seconds)];

    public void Dispose() => _listener.Dispose();

    /// <summary>The statement of an Npgsql command's activity, whitespace collapsed, cut after <paramref name="length"/> characters.</summary>
    internal static string StatementOf(Activity activity, int length = 90)
    {
        var text = activity.GetTagItem("db.query.text") as string ?? activity.GetTagItem("db.statement") as string ?? activity.DisplayName;
        var collapsed = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return collapsed.Length <= length ? collapsed : collapsed[..length] + "...";
    }

    private void Stopped(Activity activity)
    {
        var key = StatementOf(activity);
        var totals = _byStatement.GetOrAdd(key, static _ => new Totals());
        lock (totals)
        {
            totals.Calls++;
            totals.Seconds += activity.Duration.TotalSeconds;
        }
    }

    private sealed class Totals
    {
        public long Calls;
        public double Seconds;
    }
}
