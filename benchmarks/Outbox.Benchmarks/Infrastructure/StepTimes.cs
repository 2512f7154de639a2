using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Outbox.Benchmarks.Macro;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>
/// Diagnostics of a relay's steps in one run: the duration of every drain cycle or batch (the library's
/// <c>outbox.relay.batch.duration</c>) and of every Npgsql command by statement (Npgsql's <c>ActivitySource</c>), as
/// distributions, so that a latency tail can be traced to the step that waits.
/// </summary>
internal sealed class StepTimes : IDisposable
{
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _commands;
    private readonly ConcurrentQueue<double> _batches = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<double>> _statements = new(StringComparer.Ordinal);
    private volatile bool _recording;

    public StepTimes()
    {
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "outbox.relay.batch.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
        {
            if (_recording)
            {
                _batches.Enqueue(seconds * 1000);
            }
        });
        _meters.Start();
        _commands = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (_recording)
                {
                    _statements.GetOrAdd(DbCommandProfiler.StatementOf(activity, 60), static _ => new()).Enqueue(activity.Duration.TotalMilliseconds);
                }
            },
        };
        ActivitySource.AddActivityListener(_commands);
    }

    public void Start() => _recording = true;

    public void Stop() => _recording = false;

    /// <summary>One line per step: count, p50, p99 and max in milliseconds; the batches first, then the statements by total time.</summary>
    public IEnumerable<string> Describe(double seconds)
    {
        yield return Line("relay batch (outbox.relay.batch.duration)", [.. _batches], seconds);
        foreach (var (statement, times) in _statements.OrderByDescending(s => s.Value.Sum()).Take(6))
        {
            yield return Line("SQL " + statement, [.. times], seconds);
        }
    }

    public void Dispose()
    {
        _meters.Dispose();
        _commands.Dispose();
    }

    private static string Line(string what, double[] values, double seconds)
    {
        Array.Sort(values);
        return Fmt.Inv($"{what}: {values.Length / Math.Max(seconds, 1e-9):0.0}/s, p50 {LatencyResult.Percentile(values, 50):0.00} ms, p99 {LatencyResult.Percentile(values, 99):0.00} ms, max {LatencyResult.Percentile(values, 100):0.00} ms");
    }
}
