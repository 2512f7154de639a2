using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// <c>throughput</c>. Polling: N rows preloaded with the library's <see cref="OutboxWriter"/> (not timed), then the
/// relay host starts and the clock runs until every row is acknowledged by Kafka. CDC: the relay streams, then W
/// writers insert N events with the library's writer in 1,000-row transactions and the clock runs until every event
/// is acknowledged. The matching raw baseline runs first, in the same process and database server.
/// </summary>
internal static class ThroughputScenario
{
    public static async Task<ThroughputResult> RunAsync(BenchInfrastructure infrastructure, RelayKind relay, int messages, int writers, int partitions, CancellationToken cancellationToken, int? lingerMs = null, bool catchUp = false, int? batchesInFlight = null)
    {
        var workload = new Workload(Workload.NewRunId(), messages);
        var name = relay.ToString().ToLowerInvariant();
        Progress.Line(Fmt.Inv($"throughput/{name}: {messages:N0} events, {writers} writer(s), {partitions} partitions"));
        await using var database = await infrastructure.CreateDatabaseAsync("bench_tp_" + name, cancellationToken);
        var connectionString = database.ConnectionString;
        var options = workload.CreateOptions();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        // The schema each relay's registration creates: CDC leaves out the commit-order trigger (commit order is in the WAL).
        await OutboxSchema.EnsureCreatedAsync(dataSource, options, relay == RelayKind.Cdc ? OutboxCommitOrder.WriteAheadLog : OutboxCommitOrder.Trigger, cancellationToken);
        var topic = await infrastructure.CreateTopicAsync(workload.Topic(options), partitions, cancellationToken);

        BaselineResult baseline;
        await using (var baselines = await Baselines.CreateAsync(connectionString, workload, cancellationToken))
        {
            baseline = relay == RelayKind.Polling
                ? await baselines.ClaimDeleteAsync(1, cancellationToken)
                : await baselines.PgOutputDecodeAsync(writers, cancellationToken);
            await baselines.DropAsync(cancellationToken);
        }

        Progress.Line(Fmt.Inv($"baseline {baseline.Name}: {Fmt.Rate(baseline.PerSecond)} rows/s ({baseline.Seconds:0.00}s)"));

        var recorder = new AckRecorder();
        using var host = RelayHost.Build(relay, connectionString, infrastructure.BootstrapServers, workload, recorder, lingerMs, batchesInFlight);
        var writer = host.Services.GetRequiredService<OutboxWriter>();
        var events = Enumerable.Range(0, writers)
            .Select(w => workload.IndexesOf(w, writers).Select(i => (object)workload.Event(i)).Chunk(Baselines.TransactionRows).ToList())
            .ToArray();

        if (relay == RelayKind.Cdc && catchUp)
        {
            // The relay's own ceiling, without writers competing for the cores: its slot exists (a relay streamed and
            // stopped), every event is written (not timed), then a relay starts and drains the slot.
            Progress.Line("catch-up: creating the slot, then writing every event while no relay runs (not timed)");
            using (var setup = RelayHost.Build(relay, connectionString, infrastructure.BootstrapServers, workload, new AckRecorder(), lingerMs))
            {
                await setup.StartAsync(cancellationToken);
                await RelayHost.WaitUntilStreamingAsync(connectionString, workload, TimeSpan.FromSeconds(60), cancellationToken);
                await setup.StopAsync(cancellationToken);
            }

            await Task.WhenAll(events.Select(part => WriteAsync(dataSource, writer, part, null, cancellationToken)));
        }

        if (relay == RelayKind.Polling)
        {
            Progress.Line("preloading the outbox with OutboxWriter.EnqueueBatchAsync (not timed)");
            await Task.WhenAll(events.Select(part => WriteAsync(dataSource, writer, part, null, cancellationToken)));
            await RawRows.ExecuteAsync(dataSource, RawSql.Vacuum(new OutboxTableNames(options).Messages), cancellationToken);
        }

        await using var verifier = TopicVerifier.Start(infrastructure.BootstrapServers, topic, partitions, workload, liveWhile: messages > TopicVerifier.LiveThreshold(partitions));
        long written = 0;
        var allAcked = recorder.WaitForAsync(messages);
        var postmaster = await PostgresProcess.PostmasterPidAsync(dataSource, cancellationToken);
        using var profiler = new DbCommandProfiler();
        long started;
        long writersDone = 0;
        CpuSnapshot cpuStart;
        await using (Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"throughput/{name}: {recorder.Count:N0}/{messages:N0} acknowledged, {Interlocked.Read(ref written):N0} written")))
        {
            if (relay == RelayKind.Polling || catchUp)
            {
                cpuStart = CpuSnapshot.Take(postmaster);
                started = Stopwatch.GetTimestamp();
                await host.StartAsync(cancellationToken);
            }
            else
            {
                await host.StartAsync(cancellationToken);
                await RelayHost.WaitUntilStreamingAsync(connectionString, workload, TimeSpan.FromSeconds(60), cancellationToken);
                cpuStart = CpuSnapshot.Take(postmaster);
                started = Stopwatch.GetTimestamp();
                await Task.WhenAll(events.Select(part => WriteAsync(dataSource, writer, part, c => Interlocked.Add(ref written, c), cancellationToken)));
                writersDone = Stopwatch.GetTimestamp();
            }

            await allAcked.WaitAsync(TimeSpan.FromMinutes(15), cancellationToken);
        }

        var finished = await allAcked;
        var wall = Stopwatch.GetElapsedTime(started, finished);
        var cpu = CpuSnapshot.Take(postmaster).Since(cpuStart, Stopwatch.GetElapsedTime(started));
        var commands = profiler.Snapshot();
        await host.StopAsync(cancellationToken);
        var verification = await verifier.CompleteAsync(TimeSpan.FromSeconds(30), cancellationToken);

        var result = new ThroughputResult(relay, messages, writers, partitions, wall.TotalSeconds, baseline, verification)
        {
            Cpu = cpu,
            DbCommands = commands,
            Acks = recorder,
        };
        if (catchUp)
        {
            result.Notes.Add(Fmt.Inv($"catch-up: {messages:N0} events waiting in the slot when the relay started; the baseline is live decoding with writers"));
        }

        if (batchesInFlight is { } inFlight)
        {
            result.Notes.Add(Fmt.Inv($"CdcRelayOptions.MaxBatchesInFlight = {inFlight} (default 4); linger.ms {(lingerMs is { } l ? l.ToString(System.Globalization.CultureInfo.InvariantCulture) : "default")}"));
        }

        result.Notes.Add(cpu.Describe());
        if (writersDone != 0)
        {
            var writing = Stopwatch.GetElapsedTime(started, writersDone);
            var ackedWhenWritten = recorder.AckedAt.Values.Count(t => t <= writersDone);
            if (baseline.WritersSeconds is { } baselineWriting)
            {
                result.Notes.Add(Fmt.Inv($"baseline writers (raw COPY into a trigger-less table of the outbox shape) committed all rows after {baselineWriting:0.00}s ({messages / baselineWriting:N0}/s); decoding finished {(baseline.Seconds - baselineWriting) * 1000:N0} ms later"));
            }

            result.Notes.Add(Fmt.Inv($"writers: all {messages:N0} events committed after {writing.TotalSeconds:0.00}s ({messages / writing.TotalSeconds:N0}/s with the library's writer); {ackedWhenWritten:N0} acknowledged by then; the last acknowledgement {Stopwatch.GetElapsedTime(writersDone, finished).TotalMilliseconds:N0} ms after the last commit"));
        }

        result.Notes.Add(Fmt.Inv($"publisher: {recorder.PublishCalls:N0} calls, {recorder.PublishedMessages / (double)Math.Max(1, recorder.PublishCalls):0} messages per call, {recorder.TimeInPublish.TotalSeconds:0.00}s inside PublishAsync ({recorder.TimeInPublish / wall:P0} of wall time, summed over concurrent calls), mean {recorder.TimeInPublish.TotalMilliseconds / Math.Max(1, recorder.PublishCalls):0.00} ms per call"));
        foreach (var (statement, calls, seconds) in commands.Take(6))
        {
            result.Notes.Add(Fmt.Inv($"SQL {calls:N0} x, total {seconds:0.00}s ({seconds / wall.TotalSeconds:P0} of wall), mean {seconds * 1000 / Math.Max(1, calls):0.00} ms: {statement}"));
        }

        Progress.Line(Fmt.Inv($"throughput/{name}: {Fmt.Rate(result.PerSecond)} msg/s ({wall.TotalSeconds:0.00}s), ratio {result.Ratio:0.00} to {baseline.Name}; lost {verification.Lost}, duplicates {verification.Duplicates}, order violations {verification.OrderViolations}"));
        foreach (var note in result.Notes)
        {
            Progress.Line("  " + note);
        }

        return result;
    }

    private static async Task WriteAsync(NpgsqlDataSource dataSource, OutboxWriter writer, List<object[]> chunks, Action<int>? written, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        foreach (var chunk in chunks)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await writer.EnqueueBatchAsync(connection, transaction, chunk, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            written?.Invoke(chunk.Length);
        }
    }
}
