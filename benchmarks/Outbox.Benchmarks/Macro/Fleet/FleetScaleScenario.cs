using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// <c>fleet --scenario scale</c>: K events preloaded into one database, then the same K spread evenly over N databases of
/// the same cluster; each time one relay process over the databases drains them, timed as <c>throughput</c> times a drain
/// (from the host's start until every event is acknowledged by Kafka). Reports events/s of each and their ratio.
/// </summary>
internal static class FleetScaleScenario
{
    private const int WarmUpEvents = 5_000;
    private const int WarmUpDatabases = 2;

    public static async Task<FleetScaleResult> RunAsync(BenchInfrastructure infrastructure, int messages, int databases, int partitions, CancellationToken cancellationToken)
    {
        // The first drain of a process runs on code the JIT has not optimized yet: a small one first, not reported.
        Progress.Line("fleet/scale: warm-up drain (not reported)");
        await RunCaseAsync(infrastructure, Math.Min(WarmUpEvents, messages), Math.Min(WarmUpDatabases, databases), partitions, cancellationToken);
        var one = await RunCaseAsync(infrastructure, messages, 1, partitions, cancellationToken);
        var many = await RunCaseAsync(infrastructure, messages, databases, partitions, cancellationToken);
        return new FleetScaleResult(messages, one, many);
    }

    private static async Task<FleetScaleCase> RunCaseAsync(BenchInfrastructure infrastructure, int messages, int databases, int partitions, CancellationToken cancellationToken)
    {
        // Account a lives in database a % N: every key's events are in one database, in order.
        var workload = new Workload(Workload.NewRunId(), messages, keys: Math.Max(1000, databases));
        Progress.Line(Fmt.Inv($"fleet/scale: {messages:N0} events over {databases} database(s)"));
        await using var fleet = await FleetDatabases.CreateAsync(infrastructure, "bench_fleet_scale", databases, cancellationToken);
        var options = workload.CreateOptions();
        var topic = await infrastructure.CreateTopicAsync(workload.Topic(options), partitions, cancellationToken);

        var recorder = new AckRecorder();
        using var host = FleetRelayHost.Build(fleet.Tenants, infrastructure.BootstrapServers, workload, recorder);
        var writer = host.Services.GetRequiredService<OutboxWriter>();
        var dataSources = fleet.ConnectionStrings.Select(cs => NpgsqlDataSource.Create(cs)).ToArray();
        try
        {
            Progress.Line("preloading every database with OutboxWriter.EnqueueBatchAsync (not timed)");
            var table = new OutboxTableNames(options).Messages;
            await Parallel.ForEachAsync(
                Enumerable.Range(0, databases),
                new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken },
                async (d, ct) =>
                {
                    await OutboxSchema.EnsureCreatedAsync(dataSources[d], options, OutboxCommitOrder.Trigger, ct);
                    await using var connection = await dataSources[d].OpenConnectionAsync(ct);
                    foreach (var chunk in workload.IndexesOf(d, databases).Select(i => (object)workload.Event(i)).Chunk(Baselines.TransactionRows))
                    {
                        await using var transaction = await connection.BeginTransactionAsync(ct);
                        await writer.EnqueueBatchAsync(connection, transaction, chunk, ct);
                        await transaction.CommitAsync(ct);
                    }

                    await RawRows.ExecuteAsync(dataSources[d], RawSql.Vacuum(table), ct);
                });

            await using var verifier = TopicVerifier.Start(infrastructure.BootstrapServers, topic, partitions, workload, liveWhile: messages > TopicVerifier.LiveThreshold(partitions));
            var allAcked = recorder.WaitForAsync(messages);
            var postmaster = await PostgresProcess.PostmasterPidAsync(dataSources[0], cancellationToken);
            var cpuStart = CpuSnapshot.Take(postmaster);
            var started = Stopwatch.GetTimestamp();
            long startReturned;
            await using (Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"fleet/scale: {recorder.Count:N0}/{messages:N0} acknowledged")))
            {
                await host.StartAsync(cancellationToken);
                startReturned = Stopwatch.GetTimestamp();
                await allAcked.WaitAsync(TimeSpan.FromMinutes(15), cancellationToken);
            }

            var finished = await allAcked;
            var wall = Stopwatch.GetElapsedTime(started, finished);
            var cpu = CpuSnapshot.Take(postmaster).Since(cpuStart, Stopwatch.GetElapsedTime(started));
            var firstAck = recorder.AckedAt.Values.Min();
            await host.StopAsync(cancellationToken);
            var verification = await verifier.CompleteAsync(TimeSpan.FromSeconds(30), cancellationToken);

            long left = 0;
            foreach (var dataSource in dataSources)
            {
                await using var count = dataSource.CreateCommand($"SELECT count(*) FROM {table}");
                left += (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            }

            var result = new FleetScaleCase(
                databases, messages, wall.TotalSeconds, Stopwatch.GetElapsedTime(started, startReturned).TotalSeconds, Stopwatch.GetElapsedTime(started, firstAck).TotalSeconds,
                left, verification, cpu);
            Progress.Line(Fmt.Inv(
                $"fleet/scale: {databases} database(s): {Fmt.Rate(result.PerSecond)} events/s ({wall.TotalSeconds:0.00}s; StartAsync returned after {result.StartSeconds:0.00}s, first ack after {result.FirstAckSeconds:0.00}s, {Fmt.Rate(result.PerSecondAfterFirstAck)} events/s after it); rows left {left}; lost {verification.Lost}, duplicates {verification.Duplicates}, order violations {verification.OrderViolations}"));
            Progress.Line("  " + cpu.Describe());
            Progress.Line(Fmt.Inv($"  publisher: {recorder.PublishCalls:N0} calls, {recorder.PublishedMessages / (double)Math.Max(1, recorder.PublishCalls):0} messages per call"));
            return result;
        }
        finally
        {
            foreach (var dataSource in dataSources)
            {
                await dataSource.DisposeAsync();
            }
        }
    }
}
