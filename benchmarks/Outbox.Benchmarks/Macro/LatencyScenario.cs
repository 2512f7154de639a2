using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// <c>latency</c>: with the relay running, writers commit one event per transaction at a steady rate R for 3 seconds of
/// warm-up (written and checked, not measured) and then S seconds.
/// The latency of an event runs from the moment its COMMIT is sent to the moment the relay's publish call that
/// carried it returned with Kafka's acknowledgement. A consumer of the topic also timestamps each record, as a
/// second, independent view (it adds the consumer's fetch delay).
/// </summary>
internal static class LatencyScenario
{
    private const int PacingWriters = 4;

    // Events of the first seconds are written and checked but not measured: JIT, connection pools and the relay's
    // first batches are start-up costs, not the steady state this scenario reports.
    private const int WarmUpSeconds = 3;

    /// <param name="poisonEvery">With a value N: every N-th measured event is a poison event (a payload the relay's
    /// producer refuses: the relay runs with <c>MaxPayloadBytes</c> 4,096 and <c>message.max.bytes</c> 20,480 while the
    /// writer accepts it), so its key parks; the latencies are then those of every other key's events.</param>
    /// <param name="keys">The number of keys (accounts) the events spread over.</param>
    public static async Task<LatencyResult> RunAsync(
        BenchInfrastructure infrastructure, RelayKind relay, int rate, int seconds, int partitions, CancellationToken cancellationToken, int? lingerMs = null,
        int? poisonEvery = null, int keys = 1000)
    {
        var warmUp = checked(rate * WarmUpSeconds);
        var total = checked((rate * seconds) + warmUp);
        var workload = new Workload(Workload.NewRunId(), total, keys);

        // The poison events, and every later event of their keys: never acknowledged (their keys are parked).
        var poison = new HashSet<long>();
        var held = new HashSet<long>();
        if (poisonEvery is { } every)
        {
            // Shifted by one per poison event, so that each lands on another key.
            for (long n = 1, p = warmUp + every - 1; p < total; n++, p = warmUp + (n * every) - 1 + (n - 1))
            {
                poison.Add(p);
                for (var j = p; j < total; j += workload.Keys)
                {
                    held.Add(j);
                }
            }
        }

        var name = relay.ToString().ToLowerInvariant();
        Progress.Line(Fmt.Inv($"latency/{name}: {rate} events/s for {WarmUpSeconds}s of warm-up and {seconds}s measured ({total:N0} single-event transactions, {PacingWriters} paced writers)"));
        await using var database = await infrastructure.CreateDatabaseAsync("bench_lat_" + name, cancellationToken);
        var connectionString = database.ConnectionString;
        var options = workload.CreateOptions();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        // The schema each relay's registration creates: CDC leaves out the commit-order trigger (commit order is in the WAL).
        await OutboxSchema.EnsureCreatedAsync(dataSource, options, relay == RelayKind.Cdc ? OutboxCommitOrder.WriteAheadLog : OutboxCommitOrder.Trigger, cancellationToken);
        var topic = await infrastructure.CreateTopicAsync(workload.Topic(options), partitions, cancellationToken);

        // CDC's latency floor, measured right before in the same database: raw logical decoding of single-row commits.
        double[] baseline = [];
        if (relay == RelayKind.Cdc)
        {
            await using var baselines = await Baselines.CreateAsync(connectionString, workload, cancellationToken);
            Progress.Line(Fmt.Inv($"baseline pgoutput_receive: {rate} single-row commits/s for {seconds}s, decoded by a raw replication connection"));
            baseline = await baselines.PgOutputLatencyAsync(rate, seconds, PacingWriters, cancellationToken);
            await baselines.DropAsync(cancellationToken);
            Progress.Line(Fmt.Inv($"baseline pgoutput_receive: p50 {LatencyResult.Percentile(baseline, 50):0.00} ms, p99 {LatencyResult.Percentile(baseline, 99):0.00} ms, max {LatencyResult.Percentile(baseline, 100):0.00} ms ({baseline.Length:N0} rows)"));
        }

        var recorder = new AckRecorder();
        using var host = RelayHost.Build(relay, connectionString, infrastructure.BootstrapServers, workload, recorder, lingerMs, smallLimits: poison.Count > 0);

        // The writer has the default limits (the relay's are smaller when poison is written).
        var writerServices = new ServiceCollection();
        writerServices.AddOutbox(o => o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId)).UsePostgreSql(connectionString);
        await using var writerProvider = writerServices.BuildServiceProvider();
        var writer = writerProvider.GetRequiredService<OutboxWriter>();
        await host.StartAsync(cancellationToken);
        if (relay == RelayKind.Cdc)
        {
            await RelayHost.WaitUntilStreamingAsync(connectionString, workload, TimeSpan.FromSeconds(60), cancellationToken);
        }

        // Live: the consumer's receive times are the second view of latency.
        await using var verifier = TopicVerifier.Start(infrastructure.BootstrapServers, topic, partitions, workload, liveWhile: true, recordReceiveTimes: true);
        var commitAt = new ConcurrentDictionary<Guid, long>();
        long written = 0;
        var postmaster = await PostgresProcess.PostmasterPidAsync(dataSource, cancellationToken);
        using var profiler = new DbCommandProfiler();
        var cpuStart = CpuSnapshot.Take(postmaster);
        var started = Stopwatch.GetTimestamp();
        var allAcked = recorder.WaitForAsync(total - held.Count);
        await using (Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"latency/{name}: {Interlocked.Read(ref written):N0}/{total:N0} committed, {recorder.Count:N0} acknowledged")))
        {
            await Task.WhenAll(Enumerable.Range(0, PacingWriters).Select(w => Task.Run(
                async () =>
                {
                    await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
                    foreach (var index in workload.IndexesOf(w, PacingWriters))
                    {
                        var due = started + (long)(index * (double)Stopwatch.Frequency / rate);
                        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                        if (wait > TimeSpan.Zero)
                        {
                            await Task.Delay(wait, cancellationToken);
                        }

                        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                        var evt = workload.Event(index);
                        if (poison.Contains(index))
                        {
                            evt = evt with { Note = new string('x', 50_000) };
                        }

                        var id = await writer.EnqueueAsync(connection, transaction, evt, cancellationToken);
                        var committing = Stopwatch.GetTimestamp();
                        await transaction.CommitAsync(cancellationToken);
                        if (index >= warmUp && !held.Contains(index))
                        {
                            commitAt[id] = committing;
                        }

                        Interlocked.Increment(ref written);
                    }
                },
                cancellationToken)));
            var writing = Stopwatch.GetElapsedTime(started);
            Progress.Line(Fmt.Inv($"latency/{name}: all {total:N0} committed in {writing.TotalSeconds:0.00}s ({total / writing.TotalSeconds:0} events/s)"));
            try
            {
                await allAcked.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            }
            catch (TimeoutException)
            {
                Progress.Line(Fmt.Inv($"latency/{name}: only {recorder.Count:N0}/{total:N0} acknowledged 60 s after the last commit"));
            }
        }

        var wall = Stopwatch.GetElapsedTime(started);
        var measuredStart = started + (long)(warmUp * (double)Stopwatch.Frequency / rate);
        var achievedRate = commitAt.Count / Stopwatch.GetElapsedTime(measuredStart, commitAt.Values.Max()).TotalSeconds;
        var cpu = CpuSnapshot.Take(postmaster).Since(cpuStart, wall);
        var commands = profiler.Snapshot();
        await host.StopAsync(cancellationToken);
        var verification = await verifier.CompleteAsync(TimeSpan.FromSeconds(10), cancellationToken);

        var acked = recorder.AckedAt;
        var latencies = Latencies(commitAt, acked);
        var consumerLatencies = Latencies(commitAt, verifier.ReceivedAt);
        var result = new LatencyResult(relay, rate, seconds, achievedRate, latencies, consumerLatencies, verification)
        {
            LingerMs = lingerMs,
            PoisonEvery = poisonEvery,
            PoisonEvents = poison.Count,
            HeldEvents = held.Count,
            Keys = workload.Keys,
            BaselineLatenciesMs = baseline,
            Cpu = cpu,
            DbCommands = commands,
        };
        result.Notes.Add(cpu.Describe());
        result.Notes.Add(SlowSeconds(measuredStart, commitAt, acked));
        result.Notes.Add(Fmt.Inv($"publisher: {recorder.PublishCalls:N0} calls, {recorder.PublishedMessages / (double)Math.Max(1, recorder.PublishCalls):0.0} messages per call, mean {recorder.TimeInPublish.TotalMilliseconds / Math.Max(1, recorder.PublishCalls):0.00} ms per call"));
        foreach (var (statement, calls, secs) in commands.Take(6))
        {
            result.Notes.Add(Fmt.Inv($"SQL {calls:N0} x, mean {secs * 1000 / Math.Max(1, calls):0.00} ms: {statement}"));
        }

        if (poison.Count > 0)
        {
            var parked = await new OutboxParking(dataSource, options).ListAsync(1000, includeRetrying: true, cancellationToken);
            result.Notes.Add(Fmt.Inv($"poison: {poison.Count} poison events parked {parked.Count} keys ({parked.Count(k => k.State == ParkedKeyState.Parked)} parked, the rest retrying); {held.Count} events of those keys wait; the latencies are every other key's events (the topic check counts the waiting ones as lost: {verification.Lost} lost, {held.Count} expected)"));
        }

        Progress.Line(Fmt.Inv($"latency/{name}: p50 {LatencyResult.Percentile(latencies, 50):0.00} ms, p99 {LatencyResult.Percentile(latencies, 99):0.00} ms, max {LatencyResult.Percentile(latencies, 100):0.00} ms (consumer view p99 {LatencyResult.Percentile(consumerLatencies, 99):0.00} ms); lost {verification.Lost}, duplicates {verification.Duplicates}, order violations {verification.OrderViolations}"));
        foreach (var note in result.Notes)
        {
            Progress.Line("  " + note);
        }

        return result;
    }

    /// <summary>The seconds of the run (by commit time) in which events waited longest: one stall or a steady tail?</summary>
    private static string SlowSeconds(long started, ConcurrentDictionary<Guid, long> commitAt, IReadOnlyDictionary<Guid, long> ackedAt)
    {
        var bySecond = new SortedDictionary<int, (int Count, int Slow, double Max)>();
        foreach (var (id, commit) in commitAt)
        {
            if (!ackedAt.TryGetValue(id, out var ack))
            {
                continue;
            }

            var second = (int)Stopwatch.GetElapsedTime(started, commit).TotalSeconds;
            var latency = Stopwatch.GetElapsedTime(commit, ack).TotalMilliseconds;
            var (count, slow, max) = bySecond.GetValueOrDefault(second);
            bySecond[second] = (count + 1, slow + (latency > 50 ? 1 : 0), Math.Max(max, latency));
        }

        var worst = bySecond.Where(p => p.Value.Slow > 0).OrderByDescending(p => p.Value.Max).Take(5).OrderBy(p => p.Key).ToList();
        var slowTotal = bySecond.Values.Sum(v => v.Slow);
        return worst.Count == 0
            ? "no event waited more than 50 ms"
            : Fmt.Inv($"{slowTotal:N0} events waited more than 50 ms, in {bySecond.Count(p => p.Value.Slow > 0)} of {bySecond.Count} seconds; worst seconds (by commit time): ") +
              string.Join(", ", worst.Select(p => Fmt.Inv($"t={p.Key}s max {p.Value.Max:N0} ms ({p.Value.Slow}/{p.Value.Count} over 50 ms)")));
    }

    private static double[] Latencies(ConcurrentDictionary<Guid, long> commitAt, IReadOnlyDictionary<Guid, long> doneAt)
    {
        var list = new List<double>(commitAt.Count);
        foreach (var (id, commit) in commitAt)
        {
            if (doneAt.TryGetValue(id, out var done))
            {
                list.Add(Stopwatch.GetElapsedTime(commit, done).TotalMilliseconds);
            }
        }

        list.Sort();
        return [.. list];
    }
}
