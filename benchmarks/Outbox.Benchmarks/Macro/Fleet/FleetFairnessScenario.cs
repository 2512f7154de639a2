using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// <c>fleet --scenario fairness</c>: N databases on one cluster, one relay process over all of them. Open-loop paced
/// writers commit one event per transaction: every cold database at the cold rate, one hot database (tenant-000) at the
/// cold rate in the baseline run and at hot-factor times it in the second run. Measured: the cold databases' commit-to-consume
/// latency (the writer's timestamp right after COMMIT returned, to a plain consumer of the topic receiving the record, as in
/// <c>live</c>) in both runs, and its p99 ratio.
/// </summary>
internal static class FleetFairnessScenario
{
    private const int WarmUpSeconds = 3;
    private const int KeysPerDatabase = 20;

    /// <summary>The hot database's writers, in both runs (so that the runs differ by the rate only).</summary>
    private const int HotWriters = 4;

    private const int HotDatabase = 0;

    public static async Task<FleetFairnessResult> RunAsync(
        BenchInfrastructure infrastructure, int databases, int rate, int hotFactor, int seconds, int partitions, CancellationToken cancellationToken)
    {
        if (databases < 2)
        {
            throw new ArgumentException("--databases must be at least 2 for the fairness scenario (one hot database and cold ones).");
        }

        var equal = await RunOnceAsync(infrastructure, "a", "(a) every database at the cold rate", databases, rate, rate, seconds, partitions, cancellationToken);
        var hot = await RunOnceAsync(infrastructure, "b", Fmt.Inv($"(b) tenant-000 at {hotFactor}x"), databases, rate, checked(rate * hotFactor), seconds, partitions, cancellationToken);
        return new FleetFairnessResult(databases, rate, hotFactor, seconds, equal, hot);
    }

    private static async Task<FleetFairnessRun> RunOnceAsync(
        BenchInfrastructure infrastructure, string runName, string label, int databases, int coldRate, int hotRate, int seconds, int partitions, CancellationToken cancellationToken)
    {
        Progress.Line(Fmt.Inv($"fleet/fairness {label}: {databases} databases, cold {coldRate} tx/s each, hot {hotRate} tx/s, {WarmUpSeconds}s warm-up + {seconds}s measured"));

        // Account a lives in database a % N, so every key's events are in one database; the hot database needs the most rows.
        var keys = KeysPerDatabase * databases;
        var rows = checked((int)Math.Ceiling((double)hotRate * (WarmUpSeconds + seconds + 1) / KeysPerDatabase) + 1);
        var workload = new Workload(Workload.NewRunId(), checked(rows * keys), keys);
        await using var fleet = await FleetDatabases.CreateAsync(infrastructure, "bench_fleet_fair", databases, cancellationToken);
        var options = workload.CreateOptions();
        var topic = await infrastructure.CreateTopicAsync(workload.Topic(options), partitions, cancellationToken);

        var acks = new AckRecorder { TrackHandOver = true, Keys = workload.Keys };
        using var host = FleetRelayHost.Build(fleet.Tenants, infrastructure.BootstrapServers, workload, acks);
        var hostStarted = Stopwatch.GetTimestamp();
        await host.StartAsync(cancellationToken);
        await FleetRelayHost.WaitUntilReadyAsync(host, databases, TimeSpan.FromMinutes(2), cancellationToken);
        var ready = Stopwatch.GetElapsedTime(hostStarted);
        Progress.Line(Fmt.Inv($"fleet/fairness: relay fleet ready after {ready.TotalSeconds:0.00}s (every database served, every lane leased)"));
        var writer = host.Services.GetRequiredService<OutboxWriter>();

        var dataSources = fleet.ConnectionStrings.Select(cs => NpgsqlDataSource.Create(cs)).ToArray();
        try
        {
            await using var verifier = TopicVerifier.Start(infrastructure.BootstrapServers, topic, partitions, workload, liveWhile: false);
            verifier.RecordIndexTimes();
            verifier.StartNow();

            var postmaster = await PostgresProcess.PostmasterPidAsync(dataSources[0], cancellationToken);
            var committedAt = new long[workload.Messages];
            long written = 0;

            // A short lead so that every writer is ready before the first due time.
            var started = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 5);
            var measuredFrom = started + (WarmUpSeconds * Stopwatch.Frequency);
            var stopAt = measuredFrom + (seconds * Stopwatch.Frequency);
            var cpuStart = MeasureFromAsync(measuredFrom, postmaster, cancellationToken);
            var writers = new List<Task>();
            for (var database = 0; database < databases; database++)
            {
                var count = database == HotDatabase ? HotWriters : 1;
                var rate = database == HotDatabase ? hotRate : coldRate;
                for (var w = 0; w < count; w++)
                {
                    var (d, slot) = (database, w);
                    writers.Add(Task.Run(
                        () => WriteAsync(dataSources[d], writer, workload, Indexes(workload, databases, d, slot, count), rate, slot, count, started, stopAt, committedAt, () => Interlocked.Increment(ref written), cancellationToken),
                        cancellationToken));
                }
            }

            await using (Progress.Every(TimeSpan.FromSeconds(2), () => Fmt.Inv($"fleet/fairness: {Interlocked.Read(ref written):N0} transactions committed, {acks.Count:N0} acknowledged, {verifier.Distinct:N0} consumed")))
            {
                await Task.WhenAll(writers);
            }

            var cpu = CpuSnapshot.Take(postmaster).Since(await cpuStart, Stopwatch.GetElapsedTime(measuredFrom));
            verifier.Expect(Interlocked.Read(ref written));
            var verification = await verifier.CompleteAsync(TimeSpan.FromSeconds(30), cancellationToken);
            await host.StopAsync(cancellationToken);

            var received = verifier.ReceivedAtIndex;
            var cold = new List<double>();
            var hot = new List<double>();
            var perDatabase = Enumerable.Range(0, databases).Select(_ => new List<double>()).ToArray();
            long coldCommitted = 0;
            long hotCommitted = 0;
            for (var i = 0; i < committedAt.Length; i++)
            {
                if (committedAt[i] < measuredFrom || committedAt[i] >= stopAt)
                {
                    continue;
                }

                var database = DatabaseOf(workload, databases, i);
                if (database == HotDatabase)
                {
                    hotCommitted++;
                }
                else
                {
                    coldCommitted++;
                }

                if (received[i] > 0)
                {
                    var ms = Stopwatch.GetElapsedTime(committedAt[i], received[i]).TotalMilliseconds;
                    (database == HotDatabase ? hot : cold).Add(ms);
                    perDatabase[database].Add(ms);
                }
            }

            // Where a cold event's time went: from its commit to the relay handing it to the publisher (claimed), and from
            // there to the publish call returning with Kafka's ack (the producer is shared by every database).
            var coldAck = new List<double>();
            var coldHandOver = new List<double>();
            var coldHandOverToAck = new List<double>();
            foreach (var (id, (handedAt, index)) in acks.HandedOver)
            {
                if (index >= 0 && index < committedAt.Length && committedAt[index] >= measuredFrom && committedAt[index] < stopAt
                    && DatabaseOf(workload, databases, index) != HotDatabase)
                {
                    coldHandOver.Add(Stopwatch.GetElapsedTime(committedAt[index], handedAt).TotalMilliseconds);
                    if (acks.AckedAt.TryGetValue(id, out var ackedAt))
                    {
                        coldAck.Add(Stopwatch.GetElapsedTime(committedAt[index], ackedAt).TotalMilliseconds);
                        coldHandOverToAck.Add(Stopwatch.GetElapsedTime(handedAt, ackedAt).TotalMilliseconds);
                    }
                }
            }

            if (Environment.GetEnvironmentVariable("OUTBOX_BENCH_DUMP_LATENCIES") is { Length: > 0 } dumpPath)
            {
                // Diagnostics: every measured event's commit time (ms since the start), database and commit-to-consume latency.
                var path = dumpPath + ".fairness-" + runName;
                await File.WriteAllLinesAsync(
                    path,
                    Enumerable.Range(0, committedAt.Length)
                        .Where(i => committedAt[i] >= measuredFrom && committedAt[i] < stopAt && received[i] > 0)
                        .OrderBy(i => committedAt[i])
                        .Select(i => Fmt.Inv($"{Stopwatch.GetElapsedTime(started, committedAt[i]).TotalMilliseconds:0.0} {DatabaseOf(workload, databases, i)} {Stopwatch.GetElapsedTime(committedAt[i], received[i]).TotalMilliseconds:0.0}")),
                    cancellationToken);
                Progress.Line("latencies written to " + path);
            }

            cold.Sort();
            hot.Sort();
            coldAck.Sort();
            coldHandOver.Sort();
            coldHandOverToAck.Sort();
            var worst = Enumerable.Range(0, databases)
                .Where(d => d != HotDatabase && perDatabase[d].Count > 0)
                .Select(d => (Database: d, P99: LatencyResult.Percentile([.. perDatabase[d].Order()], 99)))
                .MaxBy(x => x.P99);
            var run = new FleetFairnessRun(
                label, databases, coldRate, hotRate, coldCommitted / (double)seconds / (databases - 1), hotCommitted / (double)seconds, [.. cold], [.. hot], [.. coldAck], [.. coldHandOver], [.. coldHandOverToAck],
                worst.P99, FleetDatabases.TenantName(worst.Database), verification, cpu, ready.TotalSeconds);
            Progress.Line(Fmt.Inv(
                $"fleet/fairness {label}: hot {run.HotAchieved:N0} tx/s, cold {run.ColdAchievedPerDatabase:0.0} tx/s per database; cold commit-to-consume p50 {run.ColdP(50):0.0} ms, p95 {run.ColdP(95):0.0} ms, p99 {run.ColdP(99):0.0} ms (worst database p99 {worst.P99:0.0} ms); hot p99 {run.HotP(99):0.0} ms; lost {verification.Lost}, duplicates {verification.Duplicates}, order violations {verification.OrderViolations}"));
            Progress.Line("  " + cpu.Describe());
            return run;
        }
        finally
        {
            foreach (var dataSource in dataSources)
            {
                await dataSource.DisposeAsync();
            }
        }
    }

    private static async Task<CpuSnapshot> MeasureFromAsync(long at, int? postmaster, CancellationToken cancellationToken)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), at);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }

        return CpuSnapshot.Take(postmaster);
    }

    private static int DatabaseOf(Workload workload, int databases, long index) => (int)(index % workload.Keys % databases);

    /// <summary>The events of writer <paramref name="writer"/> of <paramref name="writers"/> of one database, in order: its
    /// accounts are those of the database with <c>(account / N) % writers == writer</c>, so each key has one writer.</summary>
    private static IEnumerable<long> Indexes(Workload workload, int databases, int database, int writer, int writers)
    {
        var accounts = Enumerable.Range(0, workload.Keys).Where(a => a % databases == database && a / databases % writers == writer).ToArray();
        for (long row = 0; row * workload.Keys < workload.Messages; row++)
        {
            foreach (var account in accounts)
            {
                var index = (row * workload.Keys) + account;
                if (index < workload.Messages)
                {
                    yield return index;
                }
            }
        }
    }

    /// <summary>One paced writer: transaction k of writer w of W is due at <c>started + (k * W + w) / rate</c> (open loop: a
    /// late writer catches up at once); each transaction commits one event and stamps its commit time.</summary>
    private static async Task WriteAsync(
        NpgsqlDataSource dataSource, OutboxWriter writer, Workload workload, IEnumerable<long> indexes, int rate, int slot, int writers, long started, long stopAt,
        long[] committedAt, Action onCommitted, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        long local = 0;
        foreach (var index in indexes)
        {
            var due = started + (long)(((local * writers) + slot) * (double)Stopwatch.Frequency / rate);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            if (Stopwatch.GetTimestamp() >= stopAt)
            {
                return;
            }

            local++;
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await writer.EnqueueAsync(connection, transaction, workload.Event(index), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            committedAt[index] = Stopwatch.GetTimestamp();
            onCommitted();
        }

        throw new InvalidOperationException("A fairness writer ran out of events before the end of the run: the workload is too small.");
    }
}
