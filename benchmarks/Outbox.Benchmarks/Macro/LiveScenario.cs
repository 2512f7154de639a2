using System.Runtime;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Macro;

/// <summary>The live scenario's ways of getting an event to Kafka.</summary>
internal enum LiveMode
{
    /// <summary>The unsafe floor: <c>SaveChanges</c> of the business row, then a direct produce (no outbox).</summary>
    DualWrite,

    /// <summary>The library as the README's quick start uses it, with the polling relay.</summary>
    Polling,

    /// <summary>The same with the CDC relay.</summary>
    Cdc,

    /// <summary>Breakdown: the business row alone (no event, no produce): what the application's save costs by itself.</summary>
    SaveOnly,

    /// <summary>Breakdown: the outbox write path of <see cref="Polling"/> (commit-order trigger) without a relay or consumer.</summary>
    PollingWriteOnly,

    /// <summary>Breakdown: the outbox write path of <see cref="Cdc"/> (no trigger) without a relay or consumer.</summary>
    CdcWriteOnly,
}

/// <summary>What a <see cref="LiveMode"/> runs.</summary>
internal static class LiveModes
{
    /// <summary>The three modes of the goals: the baseline and both relays.</summary>
    public static readonly LiveMode[] Goals = [LiveMode.DualWrite, LiveMode.Polling, LiveMode.Cdc];

    /// <summary>The goals' modes and the write-only ones that split each mode's CPU per event into its parts.</summary>
    public static readonly LiveMode[] Breakdown = [LiveMode.DualWrite, LiveMode.SaveOnly, LiveMode.PollingWriteOnly, LiveMode.Polling, LiveMode.CdcWriteOnly, LiveMode.Cdc];

    public static string Name(this LiveMode mode) => mode switch
    {
        LiveMode.DualWrite => "dual-write",
        LiveMode.Polling => "polling",
        LiveMode.Cdc => "cdc",
        LiveMode.SaveOnly => "save-only",
        LiveMode.PollingWriteOnly => "polling-write-only",
        _ => "cdc-write-only",
    };

    /// <summary>Whether events reach Kafka in this mode (and are consumed, checked and timed).</summary>
    public static bool Publishes(this LiveMode mode) => mode is LiveMode.DualWrite or LiveMode.Polling or LiveMode.Cdc;

    /// <summary>Whether the writers add outbox events to the DbContext.</summary>
    public static bool WritesOutbox(this LiveMode mode) => mode is LiveMode.Polling or LiveMode.Cdc or LiveMode.PollingWriteOnly or LiveMode.CdcWriteOnly;

    public static LiveMode? Parse(string name) => Breakdown.Cast<LiveMode?>().FirstOrDefault(m => m!.Value.Name() == name);
}

/// <summary>
/// <c>live</c>: the library used exactly as an application does. Writers (one DbContext per transaction, like a request)
/// save one business row and E events per <c>SaveChanges</c>, at a fixed rate or as fast as they can (closed loop); the
/// relay and a plain Confluent.Kafka consumer run in the same process. The "dual-write" mode saves the row and then
/// produces directly without waiting for the acknowledgement (unsafe; the floor any outbox is judged by) in the same run. Reported per mode: the transactions
/// achieved, <c>SaveChanges</c> latency, commit-to-consume percentiles (from <c>SaveChanges</c> returning to the
/// consumer receiving the record), and CPU per event split into the application (this process without the embedded
/// broker), PostgreSQL and the broker.
/// </summary>
internal static class LiveScenario
{
    private const int WarmUpSeconds = 3;
    private const int ClosedLoopCapPerSecond = 8_000;
    private const int WarmUpOnlySeconds = 5;
    private static bool s_warmedUp;

    public static async Task<IReadOnlyList<LiveResult>> RunAsync(
        BenchInfrastructure infrastructure, IReadOnlyList<LiveMode> modes, int rate, int eventsPerTransaction, int seconds, int writers, int partitions,
        Action<ScenarioResult> emit, CancellationToken cancellationToken, string? appConnectionOptions = null)
    {
        if (!s_warmedUp)
        {
            // The first EF Core writes of a process run on code the JIT has not optimized yet (and tiered PGO's
            // instrumented code for a while after): without this, the first mode measured paid for it (the dual-write
            // baseline's CPU per event was 2.69 ms as the first mode of `live --relay breakdown`, 1.50 ms in `report`).
            Progress.Line("live: warm-up of the EF Core writers, the interceptor, the relay and the clients (not measured)");
            await RunOneAsync(infrastructure, LiveMode.Polling, rate, eventsPerTransaction, WarmUpOnlySeconds, writers, partitions, appConnectionOptions, cancellationToken);
            s_warmedUp = true;
        }

        var results = new List<LiveResult>();
        foreach (var mode in modes)
        {
            var result = await RunOneAsync(infrastructure, mode, rate, eventsPerTransaction, seconds, writers, partitions, appConnectionOptions, cancellationToken);
            emit(result);
            results.Add(result);
        }

        if (results.FirstOrDefault(r => r.Mode == LiveMode.DualWrite) is { } baseline)
        {
            foreach (var result in results.Where(r => r.Mode != LiveMode.DualWrite))
            {
                Progress.Line(Fmt.Inv(
                    $"live/{result.Name} vs dual-write: events/s {result.EventsPerSecond / baseline.EventsPerSecond:0.00}x, CPU per event {result.CpuPerEventMs / baseline.CpuPerEventMs:0.00}x, consume p99 {result.ConsumeP99Ms:0.0} vs {baseline.ConsumeP99Ms:0.0} ms"));
            }
        }

        return results;
    }

    private static async Task<LiveResult> RunOneAsync(
        BenchInfrastructure infrastructure, LiveMode mode, int rate, int eventsPerTransaction, int seconds, int writers, int partitions, string? appConnectionOptions,
        CancellationToken cancellationToken)
    {
        var closedLoop = rate <= 0;
        var transactionsCap = closedLoop ? ClosedLoopCapPerSecond * (WarmUpSeconds + seconds) : rate * (WarmUpSeconds + seconds);
        var workload = new Workload(Workload.NewRunId(), checked(transactionsCap * eventsPerTransaction));
        var name = mode.Name();
        Progress.Line(Fmt.Inv($"live/{name}: {(closedLoop ? "closed loop" : rate + " transactions/s")}, {eventsPerTransaction} event(s) per transaction, {writers} EF Core writers, {WarmUpSeconds}s of warm-up and {seconds}s measured"));

        await using var database = await infrastructure.CreateDatabaseAsync("bench_live_" + name.Replace('-', '_'), cancellationToken);
        var connectionString = database.ConnectionString;
        var options = workload.CreateOptions();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var create = dataSource.CreateCommand(LiveDb.CreateTables))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        if (mode.WritesOutbox())
        {
            var commitOrder = mode is LiveMode.Cdc or LiveMode.CdcWriteOnly ? OutboxCommitOrder.WriteAheadLog : OutboxCommitOrder.Trigger;
            await OutboxSchema.EnsureCreatedAsync(dataSource, options, commitOrder, cancellationToken);
        }

        var topic = await infrastructure.CreateTopicAsync(workload.Topic(options), partitions, cancellationToken);
        // The application's DbContext may use its own connection settings (--app-connection-options), the outbox keeps its own.
        var appConnectionString = string.IsNullOrEmpty(appConnectionOptions) ? connectionString : connectionString + ";" + appConnectionOptions;
        // Diagnostics (OUTBOX_BENCH_DUMP_LATENCIES): when the relay learned of each ack, to split commit-to-consume in two.
        var dumpPath = Environment.GetEnvironmentVariable("OUTBOX_BENCH_DUMP_LATENCIES") is { Length: > 0 } dp ? dp : null;
        var acks = dumpPath is not null && mode is LiveMode.Polling or LiveMode.Cdc ? new AckRecorder { TrackHandOver = true, Keys = workload.Keys } : null;
        using var steps = acks is not null ? new StepTimes() : null;
        using var host = BuildHost(mode, connectionString, appConnectionString, infrastructure.BootstrapServers, workload, acks);
        await host.StartAsync(cancellationToken);
        if (mode == LiveMode.Cdc)
        {
            await RelayHost.WaitUntilStreamingAsync(connectionString, workload, TimeSpan.FromSeconds(60), cancellationToken);
        }

        await using var verifier = TopicVerifier.Start(infrastructure.BootstrapServers, topic, partitions, workload, liveWhile: false, recordReceiveTimes: acks is not null);
        verifier.RecordIndexTimes();

        var committedAt = new long[workload.Messages];
        var saveTicks = new long[transactionsCap];
        long transactions = 0;
        long measuredTransactions = 0;
        var postmaster = await PostgresProcess.PostmasterPidAsync(dataSource, cancellationToken);
        var producer = mode == LiveMode.DualWrite ? host.Services.GetRequiredService<IProducer<byte[], byte[]>>() : null;
        var produced = new System.Collections.Concurrent.ConcurrentBag<Task>();
        var started = Stopwatch.GetTimestamp();
        var measuredFrom = started + (WarmUpSeconds * Stopwatch.Frequency);
        var stopAt = started + ((WarmUpSeconds + seconds) * Stopwatch.Frequency);
        CpuSnapshot? cpuStart = null;
        (TimeSpan Pause, int Gen0, int Gen1, int Gen2) gcStart = default;
        var cpuGate = new Lock();
        long measuredEnd = 0;
        long commitsStart = 0;
        Statements? statements = null;
        await using (Progress.Every(TimeSpan.FromSeconds(2), () => Fmt.Inv($"live/{name}: {Interlocked.Read(ref transactions):N0} transactions committed, {verifier.Distinct:N0} events consumed")))
        {
            verifier.StartNow();
            await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(
                async () =>
                {
                    var serializer = JsonSerializerOptions.Web;
                    var local = 0L;
                    foreach (var chunk in workload.IndexesOf(w, writers).Chunk(eventsPerTransaction))
                    {
                        if (chunk.Length < eventsPerTransaction)
                        {
                            break;
                        }

                        if (!closedLoop)
                        {
                            var due = started + (long)(((local * writers) + w) * (double)Stopwatch.Frequency / rate);
                            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                            if (wait > TimeSpan.Zero)
                            {
                                await Task.Delay(wait, cancellationToken);
                            }
                        }

                        var now = Stopwatch.GetTimestamp();
                        if (now >= stopAt)
                        {
                            break;
                        }

                        if (now >= measuredFrom && cpuStart is null)
                        {
                            lock (cpuGate)
                            {
                                if (cpuStart is null)
                                {
                                    commitsStart = CommitsAsync(dataSource).GetAwaiter().GetResult();
                                    statements = Statements.StartAsync(dataSource).GetAwaiter().GetResult();
                                    cpuStart = CpuSnapshot.Take(postmaster);
                                    steps?.Start();
                                    gcStart = (GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
                                }
                            }
                        }

                        local++;
                        using var scope = host.Services.CreateScope();
                        var db = scope.ServiceProvider.GetRequiredService<LiveDb>();
                        var first = workload.Event(chunk[0]);
                        db.Watches.Add(new LiveWatch { Id = Guid.CreateVersion7(), Account = first.AccountId, Seq = first.Seq });
                        foreach (var index in chunk)
                        {
                            if (mode.WritesOutbox())
                            {
                                db.Outbox().Add(workload.Event(index));
                            }
                        }

                        var saving = Stopwatch.GetTimestamp();
                        await db.SaveChangesAsync(cancellationToken);
                        var saved = Stopwatch.GetTimestamp();
                        if (producer is not null)
                        {
                            // The dual write: after the commit, produce directly. The writer does not wait for the
                            // acknowledgements (they are checked at the end), so the baseline is the fastest floor.
                            for (var i = 0; i < chunk.Length; i++)
                            {
                                var evt = workload.Event(chunk[i]);
                                var headers = new Headers { { "id", Encoding.UTF8.GetBytes(Guid.CreateVersion7().ToString()) } };
                                produced.Add(producer.ProduceAsync(
                                    topic,
                                    new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(evt.AccountId), Value = JsonSerializer.SerializeToUtf8Bytes(evt, serializer), Headers = headers },
                                    cancellationToken));
                            }
                        }

                        foreach (var index in chunk)
                        {
                            committedAt[index] = saved;
                        }

                        Interlocked.Increment(ref transactions);
                        if (saving >= measuredFrom)
                        {
                            saveTicks[Interlocked.Increment(ref measuredTransactions) - 1] = saved - saving;
                            Interlocked.Exchange(ref measuredEnd, Math.Max(Interlocked.Read(ref measuredEnd), saved));
                        }
                    }
                },
                cancellationToken)));
        }

        var cpuEnd = CpuSnapshot.Take(postmaster);
        steps?.Stop();
        var gcPause = GC.GetTotalPauseDuration() - gcStart.Pause;
        var gcCounts = (GC.CollectionCount(0) - gcStart.Gen0, GC.CollectionCount(1) - gcStart.Gen1, GC.CollectionCount(2) - gcStart.Gen2);
        await Task.WhenAll(produced);
        var commits = await CommitsAsync(dataSource) - commitsStart;
        var measuredWall = Stopwatch.GetElapsedTime(measuredFrom, Math.Max(measuredEnd, measuredFrom + 1));
        var cpu = cpuEnd.Since(cpuStart ?? cpuEnd, measuredWall);
        var written = Interlocked.Read(ref transactions) * eventsPerTransaction;
        VerificationResult verification;
        if (mode.Publishes())
        {
            verifier.Expect(written);
            verification = await verifier.CompleteAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }
        else
        {
            // Nothing is published in a write-only mode: there is nothing to read back.
            verification = new VerificationResult(0, 0, 0, 0, 0, 0, 0);
        }

        await host.StopAsync(cancellationToken);

        var measured = (int)Interlocked.Read(ref measuredTransactions);
        var saves = saveTicks.Take(measured).Select(t => t * 1000.0 / Stopwatch.Frequency).Order().ToArray();
        var received = verifier.ReceivedAtIndex;
        var latencies = new List<double>(measured * eventsPerTransaction);
        for (var i = 0; i < committedAt.Length; i++)
        {
            if (committedAt[i] >= measuredFrom && received[i] > 0)
            {
                latencies.Add(Stopwatch.GetElapsedTime(committedAt[i], received[i]).TotalMilliseconds);
            }
        }

        if (dumpPath is not null)
        {
            if (acks is not null)
            {
                var ackToConsume = verifier.ReceivedAt
                    .Where(r => acks.AckedAt.TryGetValue(r.Key, out var acked) && acked >= measuredFrom)
                    .Select(r => Stopwatch.GetElapsedTime(acks.AckedAt[r.Key], r.Value).TotalMilliseconds)
                    .Order()
                    .ToArray();
                foreach (var line in steps!.Describe(measuredWall.TotalSeconds))
                {
                    Progress.Line($"live/{name}: {line}");
                }

                var toHandOver = new List<double>();
                var handOverToAck = new List<double>();
                foreach (var (id, (handedAt, index)) in acks.HandedOver)
                {
                    if (index >= 0 && index < committedAt.Length && committedAt[index] >= measuredFrom)
                    {
                        toHandOver.Add(Stopwatch.GetElapsedTime(committedAt[index], handedAt).TotalMilliseconds);
                        if (acks.AckedAt.TryGetValue(id, out var ackedAt))
                        {
                            handOverToAck.Add(Stopwatch.GetElapsedTime(handedAt, ackedAt).TotalMilliseconds);
                        }
                    }
                }

                toHandOver.Sort();
                handOverToAck.Sort();
                Progress.Line(Fmt.Inv($"live/{name}: from the commit to the relay's hand-over to the producer: p50 {LatencyResult.Percentile([.. toHandOver], 50):0.0} ms, p99 {LatencyResult.Percentile([.. toHandOver], 99):0.0} ms, max {toHandOver.LastOrDefault():0.0} ms ({toHandOver.Count:N0} events)"));
                Progress.Line(Fmt.Inv($"live/{name}: from the hand-over to the ack: p50 {LatencyResult.Percentile([.. handOverToAck], 50):0.0} ms, p99 {LatencyResult.Percentile([.. handOverToAck], 99):0.0} ms, max {handOverToAck.LastOrDefault():0.0} ms"));
                Progress.Line(Fmt.Inv($"live/{name}: from the relay's ack to the consumer: p50 {LatencyResult.Percentile(ackToConsume, 50):0.0} ms, p99 {LatencyResult.Percentile(ackToConsume, 99):0.0} ms, max {ackToConsume.LastOrDefault():0.0} ms ({ackToConsume.Length:N0} events)"));
            }

            // Diagnostics: every measured event's commit time (ms since the start) and commit-to-consume latency.
            await File.WriteAllLinesAsync(
                dumpPath + "." + name,
                Enumerable.Range(0, committedAt.Length)
                    .Where(i => committedAt[i] >= measuredFrom && received[i] > 0)
                    .Select(i => Fmt.Inv($"{Stopwatch.GetElapsedTime(started, committedAt[i]).TotalMilliseconds:0.0} {Stopwatch.GetElapsedTime(committedAt[i], received[i]).TotalMilliseconds:0.0}")),
                cancellationToken);
        }

        latencies.Sort();
        var result = new LiveResult(mode, name, rate, eventsPerTransaction, writers, seconds, measured / measuredWall.TotalSeconds, saves, [.. latencies], verification) { Cpu = cpu };
        result.Notes.Add(cpu.Describe());
        var gcNote = Fmt.Inv($"garbage collections in the measured seconds: {gcCounts.Item1} gen0, {gcCounts.Item2} gen1, {gcCounts.Item3} gen2; paused {gcPause.TotalMilliseconds:0} ms in all ({(GCSettings.IsServerGC ? "server" : "workstation")} GC)");
        result.Notes.Add(gcNote);
        result.CommitsPerEvent = commits / Math.Max(1.0, result.EventsPerSecond * measuredWall.TotalSeconds);
        result.Notes.Add(Fmt.Inv($"PostgreSQL transactions committed in the database: {result.CommitsPerEvent:0.00} per event (pg_stat_database.xact_commit, which counts read-only ones too)"));
        Progress.Line(Fmt.Inv(
            $"live/{name}: {result.TransactionsPerSecond:N0} tx/s ({result.EventsPerSecond:N0} events/s); SaveChanges p50 {LatencyResult.Percentile(saves, 50):0.00} ms; commit to consume p50 {result.ConsumeP50Ms:0.0} ms, p99 {result.ConsumeP99Ms:0.0} ms; CPU per event {result.CpuPerEventMs:0.000} ms (app {result.AppPerEventMs:0.000}, PostgreSQL {result.PostgresPerEventMs:0.000}, broker {result.BrokerPerEventMs:0.000}); {result.CommitsPerEvent:0.00} PostgreSQL transactions per event; lost {verification.Lost}, duplicates {verification.Duplicates}, order violations {verification.OrderViolations}"));
        Progress.Line("  " + cpu.Describe());
        Progress.Line("  " + gcNote);
        if (statements is not null)
        {
            foreach (var line in await statements.TopAsync(dataSource, result.EventsPerSecond * measuredWall.TotalSeconds, 12))
            {
                result.Notes.Add(line);
                Progress.Line("  " + line);
            }
        }

        return result;
    }

    /// <summary>Transactions committed in the scenario's database so far (the statistics lag by up to a second).</summary>
    private static async Task<long> CommitsAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static IHost BuildHost(LiveMode mode, string connectionString, string appConnectionString, string bootstrapServers, Workload workload, AckRecorder? acks)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
        if (mode is LiveMode.DualWrite or LiveMode.SaveOnly)
        {
            builder.Services.AddDbContext<LiveDb>(db => db.UseNpgsql(appConnectionString));
            builder.Services.AddSingleton(_ => new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrapServers }).Build());
            return builder.Build();
        }

        // The README's quick start: AddOutbox, UsePostgreSql, UseKafka, one relay with its defaults, UseOutbox on the DbContext.
        var outbox = builder.Services
            .AddOutbox(o => o.MapEvent<BenchEvent>(workload.AggregateType, e => e.AccountId))
            .UsePostgreSql(connectionString)
            .UseKafka(k => k.BootstrapServers = bootstrapServers);
        _ = mode switch
        {
            LiveMode.Polling => outbox.AddPollingRelay(),
            LiveMode.Cdc => outbox.AddCdcRelay(o => o.SlotName = RelayHost.SlotName(workload)),
            _ => outbox, // a write-only mode: no relay
        };
        if (acks is not null)
        {
            AckRecordingPublisher.Decorate(builder.Services, acks);
        }

        builder.Services.AddDbContext<LiveDb>((sp, db) => db.UseNpgsql(appConnectionString).UseOutbox(sp));
        return builder.Build();
    }
}

/// <summary>pg_stat_statements of the scenario's database, when the server loads it (OUTBOX_BENCH_PG_STATEMENTS=1).</summary>
internal sealed class Statements
{
    public static async Task<Statements?> StartAsync(NpgsqlDataSource dataSource)
    {
        try
        {
            await using var command = dataSource.CreateCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()");
            await command.ExecuteNonQueryAsync();
            return new Statements();
        }
        catch (PostgresException)
        {
            return null;
        }
    }

    /// <summary>The statements that took the most time (execution plus planning), per event.</summary>
    public async Task<IReadOnlyList<string>> TopAsync(NpgsqlDataSource dataSource, double events, int count)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT calls, total_exec_time + total_plan_time, total_plan_time, left(regexp_replace(query, '\s+', ' ', 'g'), 140)
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY 2 DESC LIMIT $1
            """);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync())
        {
            lines.Add(Fmt.Inv($"SQL {reader.GetInt64(0) / Math.Max(1, events):0.00} calls/event, {reader.GetDouble(1) / Math.Max(1, events):0.000} ms/event (plan {reader.GetDouble(2) / Math.Max(1, events):0.000}): {reader.GetString(3)}"));
        }

        return lines;
    }
}

/// <summary>The business row of the live scenario (a watch, as in the sample).</summary>
public sealed class LiveWatch
{
    public Guid Id { get; set; }

    public string Account { get; set; } = "";

    public long Seq { get; set; }
}

/// <summary>The application's DbContext of the live scenario.</summary>
public sealed class LiveDb(DbContextOptions<LiveDb> options) : DbContext(options)
{
    public const string CreateTables = "CREATE SCHEMA IF NOT EXISTS live; CREATE TABLE IF NOT EXISTS live.watches (id uuid PRIMARY KEY, account text NOT NULL, seq bigint NOT NULL)";

    public DbSet<LiveWatch> Watches => Set<LiveWatch>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<LiveWatch>(e =>
        {
            e.ToTable("watches", "live");
            e.Property(w => w.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(w => w.Account).HasColumnName("account");
            e.Property(w => w.Seq).HasColumnName("seq");
        });
}
