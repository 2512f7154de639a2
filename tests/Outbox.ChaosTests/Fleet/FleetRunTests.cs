using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.ChaosTests.Chaos;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Orchestration;
using Outbox.ChaosTests.Roles;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.Fleet;

/// <summary>
/// The fleet run of CI (issue: many databases): 3 PostgreSQL clusters of 20 databases each, 3 relay processes over all of
/// them (<c>UsePostgreSqlDatabases</c> with a file as the tenant catalog), writers committing to random databases for 60 s
/// while databases are added (the fleet creates their schema), removed (their relays stop; their writers go on) and added
/// back, and relay processes are killed (SIGKILL) and started again. Then every removed database is added back, and the
/// checks: every database drained, every committed event in Kafka, each key's first copies in commit order.
/// A failure prints the seed: <c>OUTBOX_FLEET_SEED=S dotnet test tests/Outbox.ChaosTests --filter FleetRunTests</c>.
/// </summary>
[Collection(ChaosRunCollection.Name)]
[Trait("Category", ChaosRunTests.Category)]
public sealed class FleetRunTests(ITestOutputHelper output)
{
    public const string SeedVariable = "OUTBOX_FLEET_SEED";
    private const int Clusters = 3;
    private const int DatabasesPerCluster = 20;
    private const int Relays = 3;
    private const int Writers = 4;
    private const int KeysPerWriterAndDatabase = 3;
    private const int Partitions = 12;
    private static readonly TimeSpan RunTime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MaxRunTime = TimeSpan.FromMinutes(6);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task Three_clusters_of_twenty_databases_and_three_relays_through_sixty_seconds_of_adds_removes_and_kills_lose_nothing_and_keep_key_order()
    {
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : Random.Shared.Next(1, int.MaxValue);
        output.WriteLine($"seed {seed} (replay with {SeedVariable}={seed})");
        var random = new Random(seed);
        var directory = Path.Combine(Path.GetTempPath(), $"outbox-fleet-{seed}-{Guid.NewGuid():N}"[..40]);
        using var log = new RunLog(directory, new OutputWriter(output));

        var clusters = new List<PostgresServer>();
        var dataSources = new ConcurrentDictionary<string, NpgsqlDataSource>(StringComparer.Ordinal);
        var relays = new List<ChildProcess>();
        KafkaServer? kafka = null;
        try
        {
            for (var c = 0; c < Clusters; c++)
            {
                var options = new PostgresServerOptions();
                options.Settings["max_connections"] = "500";
                clusters.Add(await PostgresServer.StartAsync(options));
            }

            kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 3, Kind = KafkaServerKind.Embedded });
            var prefix = "fleet-" + seed.ToString(CultureInfo.InvariantCulture);
            var topic = prefix + "." + FleetEvent.AggregateType;
            await kafka.CreateTopicAsync(topic, Partitions);

            var all = new ConcurrentDictionary<string, OutboxDatabase>(StringComparer.Ordinal);
            var next = 0;
            async Task<OutboxDatabase> CreateAsync(int cluster)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"c{cluster}-t{Interlocked.Increment(ref next):000}");
                var cs = new NpgsqlConnectionStringBuilder(await clusters[cluster].CreateDatabaseAsync("fleet")) { ApplicationName = "fleet-test" }.ConnectionString;
                return new OutboxDatabase(name, cs);
            }

            var initial = await Task.WhenAll(Enumerable.Range(0, Clusters * DatabasesPerCluster).Select(i => CreateAsync(i % Clusters)));
            var file = Path.Combine(directory, "databases.txt");
            var listed = new HashSet<string>(StringComparer.Ordinal);
            var fileGate = new Lock();
            void WriteFile()
            {
                lock (fileGate)
                {
                    FileDatabaseSource.Write(file, all.Values.Where(d => listed.Contains(d.Name)).OrderBy(d => d.Name, StringComparer.Ordinal));
                }
            }

            foreach (var database in initial)
            {
                all[database.Name] = database;
                listed.Add(database.Name);
            }

            WriteFile();
            log.Line($"{initial.Length} databases on {Clusters} clusters; Kafka at {kafka.BootstrapServers}");

            for (var r = 1; r <= Relays; r++)
            {
                var relay = new ChildProcess($"fleet-relay-{r}", "fleet-relay", ["--databases", file, "--bootstrap", kafka.BootstrapServers, "--prefix", prefix], log);
                relays.Add(relay);
                relay.Start();
            }

            await Task.WhenAll(relays.Select(r => r.WaitReadyAsync(TimeSpan.FromMinutes(8))));

            // The writers need the schema, which the fleet creates: wait for it in every database.
            foreach (var database in initial)
            {
                await WaitForSchemaAsync(DataSource(dataSources, database));
            }

            log.Line("relays ready, schemas created; writing");

            // Writable: databases whose schema exists (removed ones included: their application keeps writing).
            var writable = new ConcurrentDictionary<string, OutboxDatabase>(initial.ToDictionary(d => d.Name), StringComparer.Ordinal);
            var committed = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
            using var stopWriting = new CancellationTokenSource();
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(w, seed, writable, dataSources, committed, stopWriting.Token))).ToArray();

            var actions = new Dictionary<string, int>(StringComparer.Ordinal);
            var removed = new List<string>();
            var plan = new[] { "kill", "add", "remove", "kill", "remove", "add", "re-add", "kill", "add", "remove" };
            var step = 0;
            // At least RunTime, and at least two of each action: on a loaded machine an action takes longer, and the run
            // lasts until each has happened (the writers write meanwhile), within a generous limit.
            var clock = Stopwatch.StartNew();
            bool Done() => clock.Elapsed >= RunTime && actions.GetValueOrDefault("kill") >= 2 && actions.GetValueOrDefault("add") >= 2
                           && actions.GetValueOrDefault("remove") >= 2 && actions.GetValueOrDefault("re-add") >= 1;
            while (!Done())
            {
                Assert.True(clock.Elapsed < MaxRunTime, $"the actions took longer than {MaxRunTime.TotalMinutes:0} min (seed {seed})");
                await Task.Delay(TimeSpan.FromMilliseconds(3000 + random.Next(2000)));
                var action = plan[step++ % plan.Length];
                switch (action)
                {
                    case "kill":
                        var victim = relays[random.Next(relays.Count)];
                        victim.Kill();
                        log.Line($"killed {victim.Name}");
                        await Task.Delay(TimeSpan.FromMilliseconds(500 + random.Next(2000)));
                        victim.Start();
                        break;
                    case "add":
                        var added = await CreateAsync(random.Next(Clusters));
                        all[added.Name] = added;
                        lock (fileGate)
                        {
                            listed.Add(added.Name);
                        }

                        WriteFile();
                        await WaitForSchemaAsync(DataSource(dataSources, added));
                        writable[added.Name] = added;
                        log.Line($"added {added.Name}: schema created by the fleet");
                        break;
                    case "remove":
                        string[] candidates;
                        lock (fileGate)
                        {
                            candidates = [.. listed.Order(StringComparer.Ordinal)];
                        }

                        var gone = candidates[random.Next(candidates.Length)];
                        lock (fileGate)
                        {
                            listed.Remove(gone);
                        }

                        WriteFile();
                        removed.Add(gone);
                        log.Line($"removed {gone}");
                        break;
                    case "re-add":
                        if (removed.Count > 0)
                        {
                            var back = removed[0];
                            removed.RemoveAt(0);
                            lock (fileGate)
                            {
                                listed.Add(back);
                            }

                            WriteFile();
                            log.Line($"added {back} back");
                        }

                        break;
                }

                actions[action] = actions.GetValueOrDefault(action) + 1;
            }

            await stopWriting.CancelAsync();
            await Task.WhenAll(writers);
            log.Line($"writers done: {committed.Values.Sum()} events over {committed.Count} keys in {writable.Count} databases; actions {string.Join(", ", actions.Select(a => $"{a.Key} {a.Value}"))}");

            // Rows of removed databases waited where they were: add them back, and everything drains.
            var waiting = 0L;
            foreach (var name in removed)
            {
                waiting += await PendingAsync(DataSource(dataSources, all[name]));
            }

            log.Line($"{removed.Count} database(s) still removed, {waiting} events waiting in them: adding them back");
            lock (fileGate)
            {
                listed.UnionWith(all.Keys);
            }

            WriteFile();
            foreach (var relay in relays.Where(r => !r.IsRunning))
            {
                relay.Start();
            }

            var drainClock = Stopwatch.StartNew();
            await Eventually.TrueAsync(
                async () =>
                {
                    foreach (var database in writable.Values)
                    {
                        if (await PendingAsync(DataSource(dataSources, database)) > 0)
                        {
                            return false;
                        }
                    }

                    return true;
                },
                "every database is drained",
                TimeSpan.FromMinutes(5));
            log.Line($"every database drained {drainClock.Elapsed.TotalSeconds:0.0} s after the writers stopped");

            var records = ReadTopic(kafka.BootstrapServers, topic, committed.Values.Sum());
            var (duplicates, problems) = Check(records, committed);
            log.Line($"{records.Count} records for {committed.Values.Sum()} events: {duplicates} duplicates, {problems.Count} keys lost or out of order");
            Assert.True(committed.Values.Sum() > 500 && committed.Count > 100, "too few events committed for the run to mean anything");
            Assert.True(problems.Count == 0, $"{problems.Count} keys lost or out of order (seed {seed}):\n" + string.Join("\n", problems.Take(20)));
            Assert.All(relays, r => Assert.Empty(r.Crashes));

            foreach (var relay in relays)
            {
                await relay.StopAsync(TimeSpan.FromSeconds(30));
            }
        }
        finally
        {
            foreach (var relay in relays)
            {
                relay.Dispose();
            }

            foreach (var dataSource in dataSources.Values)
            {
                await dataSource.DisposeAsync();
            }

            if (kafka is not null)
            {
                await kafka.DisposeAsync();
            }

            foreach (var cluster in clusters)
            {
                await cluster.DisposeAsync();
            }
        }
    }

    private static NpgsqlDataSource DataSource(ConcurrentDictionary<string, NpgsqlDataSource> dataSources, OutboxDatabase database) =>
        dataSources.GetOrAdd(database.Name, _ => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.ConnectionString) { MaxPoolSize = 4 }.ConnectionString));

    private static Task WaitForSchemaAsync(NpgsqlDataSource dataSource) =>
        Eventually.TrueAsync(
            async () =>
            {
                await using var command = dataSource.CreateCommand("SELECT to_regclass('outbox.messages') IS NOT NULL");
                return (bool)(await command.ExecuteScalarAsync())!;
            },
            "the fleet created the outbox schema",
            TimeSpan.FromMinutes(2));

    private static async Task<long> PendingAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Writer <paramref name="writer"/> owns the keys <c>DATABASE.wW.kN</c>: it commits each key's events one after the other, so commit order is sequence order.</summary>
    private static async Task WriteAsync(
        int writer, int seed, ConcurrentDictionary<string, OutboxDatabase> writable, ConcurrentDictionary<string, NpgsqlDataSource> dataSources,
        ConcurrentDictionary<string, int> committed, CancellationToken stop)
    {
        var random = new Random(seed + writer);
        var services = new ServiceCollection();
        services.AddOutbox(o =>
            {
                o.LaneCount = 16;
                FleetEvent.Map(o);
            })
            .UsePostgreSqlDatabases(o => o.Add("writer", "Host=unused"));
        await using var provider = services.BuildServiceProvider();
        var outbox = provider.GetRequiredService<OutboxWriter>();
        var next = new Dictionary<string, int>(StringComparer.Ordinal);
        while (!stop.IsCancellationRequested)
        {
            var databases = writable.Values.ToArray();
            var database = databases[random.Next(databases.Length)];
            var count = random.Next(1, 6);
            var events = new List<FleetEvent>(count);
            for (var i = 0; i < count; i++)
            {
                var key = string.Create(CultureInfo.InvariantCulture, $"{database.Name}.w{writer}.k{random.Next(KeysPerWriterAndDatabase)}");
                var seq = next.GetValueOrDefault(key);
                next[key] = seq + 1;
                events.Add(new FleetEvent(key, seq));
            }

            await using (var connection = await DataSource(dataSources, database).OpenConnectionAsync(CancellationToken.None))
            await using (var tx = await connection.BeginTransactionAsync(CancellationToken.None))
            {
                await outbox.EnqueueBatchAsync(connection, tx, events, CancellationToken.None);
                await tx.CommitAsync(CancellationToken.None);
            }

            foreach (var e in events)
            {
                committed.AddOrUpdate(e.Key, e.Seq + 1, (_, v) => Math.Max(v, e.Seq + 1));
            }

            await Task.Delay(random.Next(0, 4), CancellationToken.None);
        }
    }

    private static List<(string Key, int Seq, int Partition, long Offset)> ReadTopic(string bootstrap, string topic, int expected)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "fleet-reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<(string, int, int, long)>();
        var limit = Stopwatch.StartNew();
        while (records.Count < expected && limit.Elapsed < TimeSpan.FromMinutes(3))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } message } result)
            {
                records.Add(ToRecord(result, message));
            }
        }

        while (consumer.Consume(TimeSpan.FromSeconds(1)) is { Message: { } message } more)
        {
            records.Add(ToRecord(more, message));
        }

        return records;
    }

    private static (string, int, int, long) ToRecord(ConsumeResult<byte[], byte[]> result, Message<byte[], byte[]> message)
    {
        var evt = JsonSerializer.Deserialize<FleetEvent>(message.Value, Json)!;
        return (Encoding.UTF8.GetString(message.Key), evt.Seq, result.Partition.Value, result.Offset.Value);
    }

    private static (int Duplicates, List<string> Problems) Check(List<(string Key, int Seq, int Partition, long Offset)> records, ConcurrentDictionary<string, int> committed)
    {
        var byKey = records.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Partition).ThenBy(r => r.Offset).ToList(), StringComparer.Ordinal);
        var duplicates = 0;
        var problems = new List<string>();
        foreach (var (key, count) in committed)
        {
            if (!byKey.TryGetValue(key, out var list))
            {
                problems.Add($"{key}: none of {count} events arrived");
                continue;
            }

            if (list.Select(r => r.Partition).Distinct().Count() != 1)
            {
                problems.Add($"{key}: spread over several partitions");
            }

            var seen = new HashSet<int>();
            var firsts = new List<int>();
            foreach (var r in list)
            {
                if (seen.Add(r.Seq))
                {
                    firsts.Add(r.Seq);
                }
                else
                {
                    duplicates++;
                }
            }

            if (!firsts.SequenceEqual(Enumerable.Range(0, count)))
            {
                problems.Add($"{key}: expected 0..{count - 1} in order, got {string.Join(",", firsts.Take(40))}{(firsts.Count > 40 ? "..." : "")}");
            }
        }

        return (duplicates, problems);
    }

    /// <summary>The run log's console: the test's output.</summary>
    private sealed class OutputWriter(ITestOutputHelper output) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void WriteLine(string? value)
        {
            try
            {
                output.WriteLine(value ?? "");
            }
            catch (InvalidOperationException)
            {
                // The test ended; nobody reads it any more.
            }
        }
    }
}
