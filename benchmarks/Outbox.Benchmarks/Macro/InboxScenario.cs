using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// <c>inbox</c>: N records in the outbox record shape are produced first (not timed); then a consumer host with a
/// no-op handler starts, configured like an application (<c>AddConsumer</c>, library defaults unless <c>--batch</c>),
/// and the clock runs until the stored offsets say every record is handled and committed (inbox row, offset and
/// handler transaction). Baseline: a plain consumer reading the same records.
/// </summary>
internal static class InboxScenario
{
    public static async Task<InboxResult> RunAsync(BenchInfrastructure infrastructure, int messages, int batch, int partitions, CancellationToken cancellationToken)
    {
        if (messages > partitions * 12_000)
        {
            throw new ArgumentException(Fmt.Inv($"{messages:N0} records do not fit the embedded cluster's retention in {partitions} partitions (about 12,000 records each here): raise --partitions."));
        }

        var workload = new Workload(Workload.NewRunId(), messages);
        Progress.Line(Fmt.Inv($"inbox: {messages:N0} records, no-op handler, batch {batch}, {partitions} partitions"));
        await using var database = await infrastructure.CreateDatabaseAsync("bench_inbox", cancellationToken);
        var connectionString = database.ConnectionString;
        var options = workload.CreateOptions();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await OutboxSchema.EnsureCreatedAsync(dataSource, options, cancellationToken);
        var topic = await infrastructure.CreateTopicAsync(workload.Topic(options), partitions, cancellationToken);

        Progress.Line("producing the records (not timed)");
        var rows = RawRows.Build(workload, options);
        await ProduceAsync(infrastructure.BootstrapServers, topic, rows, cancellationToken);

        var baseline = RawConsume(infrastructure.BootstrapServers, topic, partitions, messages, cancellationToken);
        Progress.Line(Fmt.Inv($"baseline kafka_consume: {Fmt.Rate(baseline.PerSecond)} records/s ({baseline.Seconds:0.00}s)"));

        var group = "bench-inbox-" + workload.RunId;
        var counters = new InboxHandlerCounters(workload.Keys);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(counters);
        builder.Services.AddDbContext<InboxBenchDb>((sp, db) => db.UseNpgsql(connectionString).UseOutbox(sp));
        builder.Services.AddOutbox(o => o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId))
            .UsePostgreSql(connectionString)
            .UseKafka(k =>
            {
                k.BootstrapServers = infrastructure.BootstrapServers;
                k.Consumer.SessionTimeoutMs = 6000;
                k.Consumer.HeartbeatIntervalMs = 500;
            })
            .AddConsumer<InboxBenchDb>(group, c =>
            {
                c.Subscribe<BenchEvent, NoOpHandler>();
                if (batch > 1)
                {
                    c.Configure(o => o.MaxBatchSize = batch);
                }
            });
        using var host = builder.Build();

        var postmaster = await PostgresProcess.PostmasterPidAsync(dataSource, cancellationToken);
        using var profiler = new DbCommandProfiler();
        var cpuStart = CpuSnapshot.Take(postmaster);
        var started = Stopwatch.GetTimestamp();
        long committed = 0;
        await host.StartAsync(cancellationToken);
        await using (Progress.Every(TimeSpan.FromSeconds(1), () => Fmt.Inv($"inbox: {Interlocked.Read(ref committed):N0}/{messages:N0} committed, {counters.Invocations:N0} handled")))
        {
            await using var command = dataSource.CreateCommand(
                $"SELECT coalesce(sum(next_offset), 0)::bigint FROM {new OutboxTableNames(options).InboxOffsets} WHERE consumer_group = $1 AND topic = $2");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
            var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 900);
            while ((committed = (long)(await command.ExecuteScalarAsync(cancellationToken))!) < messages)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException(Fmt.Inv($"The inbox committed {committed:N0}/{messages:N0} records in 15 minutes."));
                }

                await Task.Delay(20, cancellationToken);
            }
        }

        var wall = Stopwatch.GetElapsedTime(started);
        var cpu = CpuSnapshot.Take(postmaster).Since(cpuStart, wall);
        var commands = profiler.Snapshot();
        await host.StopAsync(cancellationToken);

        await using var countRows = dataSource.CreateCommand(
            $"SELECT count(*) FROM {new OutboxTableNames(options).Inbox} WHERE consumer_group = $1");
        countRows.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
        var inboxRows = (long)(await countRows.ExecuteScalarAsync(cancellationToken))!;

        var result = new InboxResult(messages, batch, partitions, wall.TotalSeconds, baseline, inboxRows, counters.Invocations, counters.OrderViolations)
        {
            Cpu = cpu,
            DbCommands = commands,
        };
        result.Notes.Add(cpu.Describe());
        foreach (var (statement, calls, seconds) in commands.Take(6))
        {
            result.Notes.Add(Fmt.Inv($"SQL {calls:N0} x, {seconds:0.00}s ({seconds / wall.TotalSeconds:P0} of wall, mean {seconds * 1000 / Math.Max(1, calls):0.00} ms): {statement}"));
        }

        Progress.Line(Fmt.Inv($"inbox: {Fmt.Rate(result.PerSecond)} msg/s ({wall.TotalSeconds:0.00}s), ratio {result.Ratio:0.00} to kafka_consume; lost {result.Lost}, duplicate invocations {result.DuplicateInvocations}, order violations {result.OrderViolations}"));
        foreach (var note in result.Notes)
        {
            Progress.Line("  " + note);
        }

        return result;
    }

    private static async Task ProduceAsync(string bootstrapServers, string topic, OutboxMessage[] rows, CancellationToken cancellationToken)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(KafkaRecords.ProducerConfig(bootstrapServers)).Build();
        long failed = 0;
        foreach (var row in rows)
        {
            while (true)
            {
                try
                {
                    producer.Produce(topic, KafkaRecords.Create(row, row.Payload), r =>
                    {
                        if (r.Error.IsError)
                        {
                            Interlocked.Increment(ref failed);
                        }
                    });
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }

        await Task.Run(() => producer.Flush(cancellationToken), cancellationToken);
        if (failed > 0)
        {
            throw new InvalidOperationException(Fmt.Inv($"{failed} records could not be produced."));
        }
    }

    private static BaselineResult RawConsume(string bootstrapServers, string topic, int partitions, int messages, CancellationToken cancellationToken)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "bench-raw-consume-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var started = Stopwatch.GetTimestamp();
        var count = 0;
        while (count < messages)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (consumer.Consume(1000) is { Message: not null })
            {
                count++;
            }
            else if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(5))
            {
                throw new TimeoutException(Fmt.Inv($"Only {count:N0}/{messages:N0} records could be read back."));
            }
        }

        return new BaselineResult("kafka_consume", messages, 1, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}
