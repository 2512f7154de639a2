using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using MovieWatch.Data;

namespace MovieWatch;

/// <summary>
/// Headless demo: users press "Watch now" concurrently; waits until both consumers handled every event, checks the
/// database (one streaming session per watch, each watch counted once in recommendations) and prints one summary line.
/// </summary>
public static class Demo
{
    public static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    public static async Task<int> RunAsync(
        SampleSettings settings, SampleInfrastructure infrastructure, TextWriter stdout, TextWriter progress, StartupProgress? startup = null, CancellationToken cancellationToken = default)
    {
        startup ??= StartupProgress.None;
        if (settings.Relay == "debezium")
        {
            progress.WriteLine("The demo needs a relay in this process: use --relay polling or --relay cdc.");
            return 2;
        }

        await using var app = MovieWatchApp.Build(settings, infrastructure);
        await MovieWatchApp.PrepareDatabaseAsync(app, settings.Users, startup);
        startup.Step("Starting the relay and the two consumers...");
        await app.StartAsync(cancellationToken);
        try
        {
            // One watch first, not measured: the consumers have joined their groups and got partitions once it is handled.
            var ready = await WarmUpAsync(app, cancellationToken);
            startup.Step($"Consumers ready (the first event was handled {ready.TotalMilliseconds:0} ms after its watch).");
            startup.Step($"Running {settings.Watches} watches from {settings.Users} users{(settings.Rate > 0 ? $" at {settings.Rate}/s" : ", as fast as they can")}...");
            return await RunWatchesAsync(app, settings, infrastructure, stdout, progress, cancellationToken);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<int> RunWatchesAsync(WebApplication app, SampleSettings settings, SampleInfrastructure infrastructure, TextWriter stdout, TextWriter progress, CancellationToken cancellationToken)
    {
        int movies;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            movies = await scope.ServiceProvider.GetRequiredService<MovieWatchDb>().Movies.CountAsync(cancellationToken);
        }

        // Every run starts from what is already there (a configured database may hold earlier runs).
        var baseline = await CountAsync(app, cancellationToken);
        var watchIds = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var started = 0;
        var random = new Random(12345);
        var plan = Enumerable.Range(0, settings.Watches).Select(_ => (User: random.Next(1, settings.Users + 1), Movie: random.Next(1, movies + 1))).ToArray();
        var cpuStart = MachineCpu.Read();
        var clock = Stopwatch.StartNew();

        var writers = Task.WhenAll(Enumerable.Range(0, settings.Concurrency).Select(worker => Task.Run(async () =>
        {
            for (var i = worker; i < plan.Length; i += settings.Concurrency)
            {
                if (settings.Rate > 0 && TimeSpan.FromSeconds((double)i / settings.Rate) - clock.Elapsed is { } wait && wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                await using var scope = app.Services.CreateAsyncScope();
                var result = await scope.ServiceProvider.GetRequiredService<WatchService>().WatchAsync(plan[i].User, plan[i].Movie, cancellationToken);
                watchIds.Add(result.Watch!.Id);
                Interlocked.Increment(ref started);
            }
        }, cancellationToken)));

        Counts counts;
        Counts? atWritesEnd = null;
        var writeSeconds = 0.0;
        (double Busy, double Total)? cpuAtWritesEnd = null;
        while (true)
        {
            counts = await CountAsync(app, cancellationToken) - baseline;
            if (writers.IsCompleted && atWritesEnd is null)
            {
                atWritesEnd = counts;
                writeSeconds = clock.Elapsed.TotalSeconds;
                cpuAtWritesEnd = MachineCpu.Read();
            }

            Bar(progress, started, counts, settings.Watches, clock.Elapsed);
            if (writers.IsCompleted && counts.Streamed >= settings.Watches && counts.Recommended >= settings.Watches)
            {
                break;
            }

            if (writers.IsFaulted || clock.Elapsed > Deadline)
            {
                break;
            }

            await Task.Delay(100, cancellationToken);
        }

        progress.WriteLine();
        await writers;

        var ids = watchIds.ToHashSet();
        var (published, duplicates) = await Task.Run(() => ReadTopic(infrastructure.BootstrapServers, ids), cancellationToken);
        var check = await CheckDatabaseAsync(app, ids, cancellationToken);
        var lost = settings.Watches - Math.Min(published, Math.Min(check.Streamed, check.Recommended));
        var ok = lost == 0 && check.Streamed == settings.Watches && check.Recommended == settings.Watches && check.CountedWatches == settings.Watches;
        if (!ok)
        {
            progress.WriteLine($"demo: FAILED: streamed={check.Streamed} recommended={check.Recommended} counted_in_stats={check.CountedWatches} published={published} (expected {settings.Watches} each)");
        }

        // Every duplicate record in the topic reaches both consumer groups, and each group's inbox drops it.
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"demo: relay={settings.Relay} watches={settings.Watches} published={published} streamed={check.Streamed} recommended={check.Recommended} lost={lost} duplicates_suppressed={duplicates * 2} rate={settings.Rate} p50_ms={check.P50Ms:0.0} p99_ms={check.P99Ms:0.0}"));
        if (check.P99Ms > 1000 && atWritesEnd is { } end)
        {
            // What dominated: the consumers falling behind the watches (handled per second while they were written),
            // or the machine (its CPU busy while they were written).
            var busy = cpuStart is { } a && cpuAtWritesEnd is { } b && b.Total > a.Total ? (b.Busy - a.Busy) / (b.Total - a.Total) : double.NaN;
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"demo: p99 above 1 s: the watches were committed at {settings.Watches / Math.Max(0.001, writeSeconds):0}/s; meanwhile the streaming consumer handled {end.Streamed / Math.Max(0.001, writeSeconds):0}/s and the recommendations consumer {end.Recommended / Math.Max(0.001, writeSeconds):0}/s, so events queued behind them; the machine's CPU was {busy:P0} busy ({Environment.ProcessorCount} cores). Lower --rate, or give the consumers more CPU."));
        }

        return ok ? 0 : 1;
    }

    private static void Bar(TextWriter progress, int started, Counts counts, int total, TimeSpan elapsed)
    {
        const int width = 30;
        var done = Math.Min(counts.Streamed, counts.Recommended);
        var filled = (int)(width * (double)Math.Min(done, total) / total);
        progress.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r[{new string('#', filled)}{new string('.', width - filled)}] watched {started}/{total} streamed {counts.Streamed} recommended {counts.Recommended} {elapsed.TotalSeconds:0.0}s "));
    }

    private readonly record struct Counts(int Streamed, int Recommended)
    {
        public static Counts operator -(Counts a, Counts b) => new(a.Streamed - b.Streamed, a.Recommended - b.Recommended);
    }

    private static async Task<Counts> CountAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MovieWatchDb>();
        return new Counts(await db.StreamingSessions.CountAsync(cancellationToken), await db.RecommendationInputs.CountAsync(cancellationToken));
    }

    private sealed record DatabaseCheck(int Streamed, int Recommended, int CountedWatches, double P50Ms, double P99Ms);

    /// <summary>One watch, handled by both consumers: returns the time from the watch to both handlings.</summary>
    private static async Task<TimeSpan> WarmUpAsync(WebApplication app, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var before = await CountAsync(app, cancellationToken);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<WatchService>().WatchAsync(1, 1, cancellationToken);
        }

        while (await CountAsync(app, cancellationToken) - before is var handled && (handled.Streamed < 1 || handled.Recommended < 1))
        {
            if (clock.Elapsed > Deadline)
            {
                throw new TimeoutException($"The consumers did not handle the first event within {Deadline}.");
            }

            await Task.Delay(50, cancellationToken);
        }

        return clock.Elapsed;
    }

    private static async Task<DatabaseCheck> CheckDatabaseAsync(WebApplication app, HashSet<Guid> ids, CancellationToken cancellationToken)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MovieWatchDb>();
        var sessions = await db.StreamingSessions.AsNoTracking().ToListAsync(cancellationToken);
        var mine = sessions.Where(s => ids.Contains(s.WatchId)).ToList();
        var inputs = await db.RecommendationInputs.AsNoTracking().Select(r => r.WatchId).ToListAsync(cancellationToken);
        var recommended = inputs.Count(ids.Contains);

        // Each watch adds exactly one to its user's genre count: the sum over the users of this run must equal the inputs.
        var statTotal = await db.GenreStats.SumAsync(s => s.Watches, cancellationToken);
        var counted = statTotal - (inputs.Count - recommended);
        var latencies = mine.Select(s => (s.OpenedAt - s.StartedAt).TotalMilliseconds).Order().ToList();
        double Percentile(double p) => latencies.Count == 0 ? 0 : latencies[Math.Clamp((int)Math.Ceiling(latencies.Count * p) - 1, 0, latencies.Count - 1)];
        return new DatabaseCheck(mine.Count, recommended, counted, Percentile(0.50), Percentile(0.99));
    }

    /// <summary>Reads the topic from the start: how many of this run's watches reached Kafka, and how many records were duplicates.</summary>
    private static (int Published, int Duplicates) ReadTopic(string bootstrapServers, HashSet<Guid> ids)
    {
        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "moviewatch-demo-check-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var metadata = admin.GetMetadata(SampleInfrastructure.Topic, TimeSpan.FromSeconds(10));
        var partitions = metadata.Topics.Single().Partitions.Select(p => new TopicPartition(SampleInfrastructure.Topic, p.PartitionId)).ToList();
        var ends = partitions.ToDictionary(p => p.Partition.Value, p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));

        var seen = new HashSet<Guid>();
        var records = 0;
        var positions = partitions.ToDictionary(p => p.Partition.Value, _ => 0L);
        var deadline = Stopwatch.StartNew();
        while (positions.Any(p => p.Value < ends[p.Key]) && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null)
            {
                continue;
            }

            positions[result.Partition.Value] = result.Offset.Value + 1;
            var watchId = System.Text.Json.JsonDocument.Parse(result.Message.Value).RootElement.GetProperty("watchId").GetGuid();
            if (ids.Contains(watchId))
            {
                records++;
                seen.Add(watchId);
            }
        }

        return (seen.Count, records - seen.Count);
    }
}

/// <summary>The machine's CPU time from <c>/proc/stat</c> (Linux): busy and total, in ticks; null elsewhere.</summary>
internal static class MachineCpu
{
    public static (double Busy, double Total)? Read()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Take(8).Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Sum();
            return (total - fields[3] - fields[4], total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
