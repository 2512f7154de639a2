using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
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
/// <c>inbox-latency</c>: records in the outbox record shape are produced at a steady rate over a few keys while a
/// consumer host (library defaults) handles them; the latency of a record runs from its produce call to its handler.
/// With <c>--poison-every N</c> every N-th measured record is one the handler always fails, so its key parks after
/// <c>MaxAttempts</c>; the latencies are then those of every other key's records (the goal: unchanged within noise).
/// </summary>
internal static class InboxLatencyScenario
{
    private const int WarmUpSeconds = 3;

    public static async Task<InboxLatencyResult> RunAsync(
        BenchInfrastructure infrastructure, int rate, int seconds, int keys, int partitions, int? poisonEvery, CancellationToken cancellationToken)
    {
        var warmUp = rate * WarmUpSeconds;
        var total = (rate * seconds) + warmUp;
        var workload = new Workload(Workload.NewRunId(), total, keys);
        Progress.Line(Fmt.Inv($"inbox-latency: {rate} records/s for {WarmUpSeconds}s of warm-up and {seconds}s measured over {workload.Keys} keys, {partitions} partitions{(poisonEvery is { } e ? Fmt.Inv($", a poison record every {e:N0}") : "")}"));
        await using var database = await infrastructure.CreateDatabaseAsync("bench_inbox_lat", cancellationToken);
        var options = workload.CreateOptions();
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await OutboxSchema.EnsureCreatedAsync(dataSource, options, cancellationToken);
        var topic = await infrastructure.CreateTopicAsync(workload.Topic(options), partitions, cancellationToken);

        // The poison records (each on another key) and every later record of their keys: held, never handled.
        var poison = new HashSet<long>();
        var held = new HashSet<long>();
        if (poisonEvery is { } every)
        {
            for (long n = 1, p = warmUp + every - 1; p < total; n++, p = warmUp + (n * every) - 1 + (n - 1))
            {
                poison.Add(p);
                for (var j = p; j < total; j += workload.Keys)
                {
                    held.Add(j);
                }
            }
        }

        var rows = RawRows.Build(workload, options);
        var factory = new OutboxMessageFactory(new OutboxEventRegistry(options.Mappings), options, TimeProvider.System);
        foreach (var p in poison)
        {
            rows[p] = factory.Create(workload.Event(p) with { Note = LatencyHandler.Poison });
        }

        var handled = new ConcurrentDictionary<(string Account, long Seq), long>();
        var group = "bench-inbox-lat-" + workload.RunId;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Error);
        builder.Services.AddSingleton(handled);
        builder.Services.AddDbContext<InboxBenchDb>((sp, db) => db.UseNpgsql(database.ConnectionString).UseOutbox(sp));
        builder.Services.AddOutbox(o => o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId))
            .UsePostgreSql(database.ConnectionString)
            .UseKafka(k =>
            {
                k.BootstrapServers = infrastructure.BootstrapServers;
                k.Consumer.SessionTimeoutMs = 6000;
                k.Consumer.HeartbeatIntervalMs = 500;
            })
            .AddConsumer<InboxBenchDb>(group, c => c.Subscribe<BenchEvent, LatencyHandler>());
        using var host = builder.Build();
        await host.StartAsync(cancellationToken);

        // The group has its partitions before the clock starts: a record produced now is fetched at once.
        using var producer = new ProducerBuilder<byte[], byte[]>(KafkaRecords.ProducerConfig(infrastructure.BootstrapServers)).Build();
        producer.Produce(topic, KafkaRecords.Create(rows[0], rows[0].Payload));
        producer.Flush(cancellationToken);
        var deadline = Stopwatch.StartNew();
        while (!handled.ContainsKey((workload.Event(0).AccountId, 0)))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException("The consumer group handled no record within 60 s.");
            }

            await Task.Delay(20, cancellationToken);
        }

        var producedAt = new long[total];
        var started = Stopwatch.GetTimestamp();
        for (var i = 1; i < total; i++)
        {
            var due = started + (long)(i * (double)Stopwatch.Frequency / rate);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            producedAt[i] = Stopwatch.GetTimestamp();
            producer.Produce(topic, KafkaRecords.Create(rows[i], rows[i].Payload));
        }

        producer.Flush(cancellationToken);
        var expected = total - held.Count;
        deadline.Restart();
        while (handled.Count < expected && deadline.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(50, cancellationToken);
        }

        await host.StopAsync(cancellationToken);
        var latencies = new List<double>();
        var missing = 0;
        for (var i = warmUp; i < total; i++)
        {
            var evt = workload.Event(i);
            if (held.Contains(i))
            {
                continue;
            }

            if (handled.TryGetValue((evt.AccountId, evt.Seq), out var at))
            {
                latencies.Add(Stopwatch.GetElapsedTime(producedAt[i], at).TotalMilliseconds);
            }
            else
            {
                missing++;
            }
        }

        latencies.Sort();
        var parked = await new InboxParking(dataSource, options).ListAsync(group, 1000, cancellationToken);
        var result = new InboxLatencyResult(rate, seconds, workload.Keys, poisonEvery, poison.Count, held.Count, [.. latencies], missing, parked.Count);
        Progress.Line(Fmt.Inv($"inbox-latency: p50 {LatencyResult.Percentile(result.LatenciesMs, 50):0.00} ms, p99 {LatencyResult.Percentile(result.LatenciesMs, 99):0.00} ms, max {LatencyResult.Percentile(result.LatenciesMs, 100):0.00} ms over {latencies.Count:N0} records; {parked.Count} keys parked, {held.Count} records held behind {poison.Count} poison records"));
        return result;
    }

    /// <summary>Records when each event was handled; fails every poison event.</summary>
    private sealed class LatencyHandler(ConcurrentDictionary<(string Account, long Seq), long> handled) : IInboxHandler<BenchEvent>
    {
        public const string Poison = "poison";

        public Task HandleAsync(BenchEvent evt, MessageContext context, CancellationToken cancellationToken)
        {
            if (evt.Note == Poison)
            {
                throw new InvalidOperationException("A poison record: this handler always fails it.");
            }

            handled.TryAdd((evt.AccountId, evt.Seq), Stopwatch.GetTimestamp());
            return Task.CompletedTask;
        }
    }
}

/// <summary>The result of <see cref="InboxLatencyScenario"/>.</summary>
internal sealed class InboxLatencyResult(
    int rate, int seconds, int keys, int? poisonEvery, int poisonRecords, int heldRecords, double[] latenciesMs, int missing, int parkedKeys) : ScenarioResult
{
    public double[] LatenciesMs => latenciesMs;

    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["scenario"] = "inbox-latency",
            ["rate"] = rate,
            ["seconds"] = seconds,
            ["keys"] = keys,
            ["p50_ms"] = Math.Round(LatencyResult.Percentile(latenciesMs, 50), 2),
            ["p95_ms"] = Math.Round(LatencyResult.Percentile(latenciesMs, 95), 2),
            ["p99_ms"] = Math.Round(LatencyResult.Percentile(latenciesMs, 99), 2),
            ["max_ms"] = Math.Round(LatencyResult.Percentile(latenciesMs, 100), 2),
            ["samples"] = latenciesMs.Length,
            ["missing"] = missing,
        };
        if (poisonEvery is { } every)
        {
            json["poison_every"] = every;
            json["poison_records"] = poisonRecords;
            json["held_records"] = heldRecords;
            json["parked_keys"] = parkedKeys;
        }

        return json;
    }
}
