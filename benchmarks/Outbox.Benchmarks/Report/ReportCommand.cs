using Outbox.Benchmarks.Infrastructure;
using Outbox.Benchmarks.Macro;

namespace Outbox.Benchmarks.Report;

/// <summary>
/// <c>report</c>: runs the set (baselines, throughput and latency of both relays, the live scenario against the dual-write
/// baseline, the inbox with and without batching), prints each JSON line, and writes
/// <c>&lt;out&gt;/&lt;date&gt;-&lt;machine&gt;.md</c> with two PNG charts next to it.
/// </summary>
internal static class ReportCommand
{
    /// <summary>The inbox runs on 16 partitions: the consumer's default concurrency.</summary>
    public const int InboxPartitions = 16;

    public static async Task RunAsync(BenchInfrastructure infrastructure, ReportSettings settings, Action<ScenarioResult> emit, CancellationToken cancellationToken)
    {
        var machine = await MachineInfo.CollectAsync(infrastructure);
        var report = new ReportData(settings, machine, DateTimeOffset.UtcNow);

        report.Baselines = await RunAsync(report, "baselines", () => BaselinesScenario.RunAsync(infrastructure, settings.Messages, settings.Writers, 1, settings.Partitions, cancellationToken), emit);
        foreach (var relay in new[] { RelayKind.Polling, RelayKind.Cdc })
        {
            var writers = relay == RelayKind.Polling ? 1 : settings.Writers;
            if (await RunAsync(report, $"throughput {relay}", () => ThroughputScenario.RunAsync(infrastructure, relay, settings.Messages, writers, settings.Partitions, cancellationToken), emit) is { } throughput)
            {
                report.Throughput.Add(throughput);
            }
        }

        foreach (var relay in new[] { RelayKind.Polling, RelayKind.Cdc })
        {
            if (await RunAsync(report, $"latency {relay}", () => LatencyScenario.RunAsync(infrastructure, relay, settings.Rate, settings.Seconds, settings.Partitions, cancellationToken), emit) is { } latency)
            {
                report.Latency.Add(latency);
            }
        }

        // The user-shaped scenario: EF Core writers, relay and consumer in process, the dual-write baseline in the same run.
        // With the write-only modes beside them, so that the report can say where each mode's CPU per event goes.
        var modes = LiveModes.Breakdown;
        foreach (var (label, rate, events) in new[] { ($"{settings.Rate} transactions/s, 1 event each", settings.Rate, 1), ("closed loop, 1 event per transaction", 0, 1), ("closed loop, 10 events per transaction", 0, 10) })
        {
            report.Live.Add((label, await LiveScenario.RunAsync(infrastructure, modes, rate, events, settings.LiveSeconds, 4, settings.Partitions, emit, cancellationToken)));
        }

        foreach (var batch in new[] { 1, 100 })
        {
            if (await RunAsync(report, $"inbox batch {batch}", () => InboxScenario.RunAsync(infrastructure, settings.InboxMessages, batch, InboxPartitions, cancellationToken), emit) is { } inbox)
            {
                report.Inbox.Add(inbox);
            }
        }

        // The SaveChanges shapes, interleaved in this process (less exposed to a shared machine's swings than
        // BenchmarkDotNet's one-method-at-a-time runs), with allocations by type.
        Progress.Line("write path: SaveChanges shapes, interleaved, with allocations by type");
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(BenchInfrastructure.PostgresVariable)))
        {
            Environment.SetEnvironmentVariable(BenchInfrastructure.PostgresVariable, infrastructure.Postgres.ConnectionString);
        }

        report.WritePathProfile = await Micro.WritePathProfile.RunAsync(entities: 100, iterations: 200);
        Progress.Line(report.WritePathProfile);

        report.LoadAverageAtEnd = MachineInfo.LoadAverageNow();
        var path = ReportWriter.Write(report);
        Progress.Line("report written: " + path);
    }

    private static async Task<T?> RunAsync<T>(ReportData report, string name, Func<Task<T>> scenario, Action<ScenarioResult> emit)
        where T : ScenarioResult
    {
        try
        {
            var result = await scenario();
            emit(result);
            return result;
        }
        catch (NotSupportedException e)
        {
            Progress.Line($"{name}: skipped: {e.Message}");
            report.Skipped.Add($"{name}: {e.Message}");
            return null;
        }
    }
}
