using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// A database with the outbox schema, a topic and a replication slot name of its own, relay hosts configured like an
/// application (AddOutbox + UsePostgreSql + UseKafka + AddCdcRelay), a writer, and a reader of the topic. The slot
/// name comes from the test kit (<see cref="TestDatabase.SlotName"/>): slots are cluster-wide, the database is not.
/// </summary>
internal sealed class CdcHarness : IAsyncDisposable
{
    public const string AggregateType = "order";
    public const string SlotPrefix = "it_cdc_";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly List<IHost> _hosts = [];
    private readonly ServiceProvider _writerServices;
    private readonly Dictionary<string, int> _nextSeq = [];

    private CdcHarness(ITestOutputHelper output, TestDatabase database, KafkaServer kafka, int partitions)
    {
        Output = output;
        Database = database;
        ConnectionString = database.ConnectionString;
        Kafka = kafka;
        Partitions = partitions;
        // Topics live on the shared Kafka: they need names of their own too.
        Prefix = "cdc-" + Guid.NewGuid().ToString("N")[..12];
        DataSource = NpgsqlDataSource.Create(ConnectionString);
        var services = new ServiceCollection();
        services.AddOutbox(ConfigureOutbox).UsePostgreSql(ConnectionString);
        _writerServices = services.BuildServiceProvider();
        Writer = _writerServices.GetRequiredService<OutboxWriter>();
    }

    public ITestOutputHelper Output { get; }

    /// <summary>Raised for every log line a relay host of this harness writes at Information or above: the host's name and the event id.</summary>
    public event Action<string, EventId>? Logged;

    public TestDatabase Database { get; }

    public string ConnectionString { get; }

    public KafkaServer Kafka { get; }

    public int Partitions { get; }

    public string Prefix { get; }

    public string SlotName => Database.SlotName;

    public string Topic => Prefix + "." + AggregateType;

    public NpgsqlDataSource DataSource { get; }

    public OutboxWriter Writer { get; }

    public OutboxOptions OutboxOptions
    {
        get
        {
            var options = new OutboxOptions();
            ConfigureOutbox(options);
            return options;
        }
    }

    /// <summary>A harness on the CDC tests' server and the shared Kafka (or the given ones), after dropping slots earlier tests left behind.</summary>
    /// <param name="commitOrder">The schema variant: by default the one AddCdcRelay() creates (no commit-order trigger).</param>
    public static async Task<CdcHarness> CreateAsync(
        ITestOutputHelper output, int partitions = 4, TestDatabase? database = null, KafkaServer? kafka = null, OutboxCommitOrder commitOrder = OutboxCommitOrder.WriteAheadLog)
    {
        database ??= await CdcInfrastructure.CreateTestDatabaseAsync("cdc");
        kafka ??= await SharedInfrastructure.KafkaAsync();
        var harness = new CdcHarness(output, database, kafka, partitions);
        await DropLeftoverSlotsAsync(harness.DataSource);
        await OutboxSchema.EnsureCreatedAsync(harness.DataSource, harness.OutboxOptions, commitOrder, CancellationToken.None);
        await kafka.CreateTopicAsync(harness.Topic, partitions);
        return harness;
    }

    /// <summary>Drops inactive slots of earlier CDC tests (permanent slots outlive a crashed or failed test and pin WAL).</summary>
    public static async Task DropLeftoverSlotsAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active AND slot_name LIKE $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = SlotPrefix + "%" });
        await command.ExecuteNonQueryAsync();
    }

    public void ConfigureOutbox(OutboxOptions options)
    {
        options.TopicTemplate = Prefix + "." + OutboxOptions.AggregateTypePlaceholder;
        options.MapEvent<CdcTestEvent>(AggregateType, e => e.Key, nameof(CdcTestEvent));
    }

    /// <summary>Builds (without starting) a relay host configured like an application.</summary>
    public IHost BuildRelayHost(
        string name,
        Action<CdcRelayOptions>? configure = null,
        Action<KafkaOptions>? kafka = null,
        string? connectionString = null,
        Action<PostgreSqlOutboxOptions>? postgreSql = null,
        Action<OutboxOptions>? outbox = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddProvider(new TestOutputLoggerProvider(Output, name, logged: id => Logged?.Invoke(name, id)));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddOutbox(o =>
            {
                ConfigureOutbox(o);
                outbox?.Invoke(o);
            })
            .UsePostgreSql(connectionString ?? ConnectionString, postgreSql)
            .UseKafka(k =>
            {
                k.BootstrapServers = Kafka.BootstrapServers;
                k.FlushTimeout = TimeSpan.FromSeconds(2);
                kafka?.Invoke(k);
            })
            .AddCdcRelay(o =>
            {
                o.SlotName = SlotName;
                o.AcknowledgeInterval = TimeSpan.FromMilliseconds(100);
                o.StandbyPollInterval = TimeSpan.FromMilliseconds(200);
                o.InitialRetryDelay = TimeSpan.FromMilliseconds(200);
                o.MaxRetryDelay = TimeSpan.FromSeconds(2);
                configure?.Invoke(o);
            });
        services?.Invoke(builder.Services);
        var host = builder.Build();
        _hosts.Add(host);
        return host;
    }

    public async Task<IHost> StartRelayHostAsync(
        string name,
        Action<CdcRelayOptions>? configure = null,
        Action<KafkaOptions>? kafka = null,
        Action<PostgreSqlOutboxOptions>? postgreSql = null,
        Action<OutboxOptions>? outbox = null,
        Action<IServiceCollection>? services = null)
    {
        var host = BuildRelayHost(name, configure, kafka, postgreSql: postgreSql, outbox: outbox, services: services);
        await host.StartAsync();
        return host;
    }

    public static CdcRelayMonitor MonitorOf(IHost host) => host.Services.GetRequiredService<CdcRelayMonitor>();

    /// <summary>Waits until the relay of <paramref name="host"/> streams from the slot.</summary>
    public async Task WaitUntilStreamingAsync(IHost host)
    {
        var monitor = MonitorOf(host);
        await Eventually.TrueAsync(
            async () => monitor.State == CdcRelayState.Streaming && (await ReadSlotAsync()).Active,
            "the relay streams from its slot");
    }

    /// <summary>Waits for a condition; on time-out, writes what the relays and the slot look like before failing.</summary>
    public async Task WaitAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null)
    {
        try
        {
            await Eventually.TrueAsync(condition, because, timeout);
        }
        catch (TimeoutException)
        {
            foreach (var host in _hosts)
            {
                try
                {
                    var monitor = MonitorOf(host);
                    var progress = host.Services.GetServices<IHostedService>().OfType<Outbox.PostgreSql.Cdc.CdcRelayService>().Single().SessionProgress;
                    Output.WriteLine($"relay: state {monitor.State}, published {monitor.PublishedCount}, last error {monitor.LastError}; session: {progress}");
                }
                catch (ObjectDisposedException)
                {
                }
            }

            var slot = await ReadSlotAsync();
            Output.WriteLine($"slot: exists {slot.Exists}, active {slot.Active}, confirmed {slot.Confirmed}, wal_status {slot.WalStatus}; " +
                             $"current WAL {await CurrentLsnAsync()}; rows pending {await CountPendingAsync()}");
            await using var pending = DataSource.CreateCommand("SELECT id, aggregateid, commit_seq, xmin::text FROM outbox.messages ORDER BY commit_seq LIMIT 20");
            await using var reader = await pending.ExecuteReaderAsync();
            HashSet<Guid> inTopic;
            try
            {
                inTopic = ReadTopic().Select(r => r.Id).ToHashSet();
            }
            catch (KafkaException ex)
            {
                // The brokers may be down on purpose: report the time-out, not the diagnostics' failure.
                Output.WriteLine($"the topic cannot be read: {ex.Message}");
                inTopic = [];
            }


            while (await reader.ReadAsync())
            {
                var id = reader.GetGuid(0);
                Output.WriteLine($"pending row {id} key {reader.GetString(1)} commit_seq {(reader.IsDBNull(2) ? "null" : reader.GetInt64(2))} xmin {reader.GetString(3)}, in Kafka: {inTopic.Contains(id)}");
            }
            throw;
        }
    }

    public Task WaitAsync(Func<bool> condition, string because, TimeSpan? timeout = null) =>
        WaitAsync(() => Task.FromResult(condition()), because, timeout);

    /// <summary>Writes <paramref name="count"/> events over <paramref name="keys"/> keys, <paramref name="perTransaction"/> per transaction.</summary>
    public async Task<List<WrittenRow>> WriteAsync(int count, int keys, int perTransaction = 1, string? text = null)
    {
        var rows = new List<WrittenRow>(count);
        await using var connection = await DataSource.OpenConnectionAsync();
        for (var start = 0; start < count; start += perTransaction)
        {
            var events = new List<CdcTestEvent>();
            for (var i = start; i < Math.Min(count, start + perTransaction); i++)
            {
                var key = "k" + (i % keys);
                int seq;
                lock (_nextSeq)
                {
                    _nextSeq.TryGetValue(key, out seq);
                    _nextSeq[key] = seq + 1;
                }

                events.Add(new CdcTestEvent(key, seq, text));
            }

            await using (var transaction = await connection.BeginTransactionAsync())
            {
                var ids = await Writer.EnqueueBatchAsync(connection, transaction, events);
                await transaction.CommitAsync();
                await using var lsn = new NpgsqlCommand("SELECT pg_current_wal_lsn()", connection);
                var after = (NpgsqlLogSequenceNumber)(await lsn.ExecuteScalarAsync())!;
                rows.AddRange(events.Select((e, i) => new WrittenRow(ids[i], e.Key, e.Seq, after)));
            }
        }

        return rows;
    }

    /// <summary>Writes <paramref name="count"/> events of key <paramref name="key"/>, one per transaction.</summary>
    public async Task<List<WrittenRow>> WriteKeyAsync(string key, int count = 1, string? text = null)
    {
        var rows = new List<WrittenRow>(count);
        await using var connection = await DataSource.OpenConnectionAsync();
        for (var i = 0; i < count; i++)
        {
            int seq;
            lock (_nextSeq)
            {
                _nextSeq.TryGetValue(key, out seq);
                _nextSeq[key] = seq + 1;
            }

            var e = new CdcTestEvent(key, seq, text);
            await using var transaction = await connection.BeginTransactionAsync();
            var ids = await Writer.EnqueueBatchAsync(connection, transaction, [e]);
            await transaction.CommitAsync();
            await using var lsn = new NpgsqlCommand("SELECT pg_current_wal_lsn()", connection);
            rows.Add(new WrittenRow(ids[0], key, seq, (NpgsqlLogSequenceNumber)(await lsn.ExecuteScalarAsync())!));
        }

        return rows;
    }

    /// <summary>
    /// A relay host that refuses large events: OutboxOptions.MaxPayloadBytes 4096 and the producer's message.max.bytes
    /// 20,480, so an event written with the default limit (1 MiB) of 50,000 bytes is refused by the producer (permanent).
    /// </summary>
    public Task<IHost> StartSmallLimitRelayHostAsync(string name, Action<CdcRelayOptions>? configure = null, Action<KafkaOptions>? kafka = null) =>
        StartRelayHostAsync(
            name,
            configure,
            k =>
            {
                k.Producer.MessageMaxBytes = 20_480;
                kafka?.Invoke(k);
            },
            outbox: o => o.MaxPayloadBytes = 4096);

    /// <summary>A payload the small-limit relay's producer refuses.</summary>
    public static string PoisonText => new('x', 50_000);

    public IReadOnlyDictionary<string, int> WrittenCounts => _nextSeq;

    public async Task<long> CountRowsAsync()
    {
        await using var command = DataSource.CreateCommand("SELECT count(*) FROM outbox.messages");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Rows not published yet: in the outbox table or in the relay's backlog (rows that predate its slot).</summary>
    public async Task<long> CountPendingAsync()
    {
        await using var command = DataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM outbox.messages) + COALESCE((SELECT count(*) FROM outbox.messages_cdc_backlog WHERE to_regclass('outbox.messages_cdc_backlog') IS NOT NULL), 0)");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The slot as the server reports it, read with SQL of the test's own.</summary>
    public async Task<(bool Exists, bool Active, NpgsqlLogSequenceNumber? Confirmed, string? WalStatus)> ReadSlotAsync()
    {
        await using var command = DataSource.CreateCommand(
            "SELECT active, confirmed_flush_lsn, wal_status FROM pg_replication_slots WHERE slot_name = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = SlotName });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return (false, false, null, null);
        }

        return (true, reader.GetBoolean(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<NpgsqlLogSequenceNumber>(1), reader.IsDBNull(2) ? null : reader.GetString(2));
    }

    /// <summary>Whether the server process <paramref name="pid"/> waits on a lock (a transaction blocked on a row lock).</summary>
    public async Task<bool> IsWaitingOnLockAsync(int pid)
    {
        await using var command = DataSource.CreateCommand("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
        return await command.ExecuteScalarAsync() is true;
    }

    public async Task<NpgsqlLogSequenceNumber> CurrentLsnAsync()
    {
        await using var command = DataSource.CreateCommand("SELECT pg_current_wal_lsn()");
        return (NpgsqlLogSequenceNumber)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Reads every record of <paramref name="topic"/> (default: the harness topic) up to the current end of each partition.</summary>
    public List<CdcRecord> ReadTopic(string? topic = null, KafkaServer? kafka = null) =>
        ReadAll(kafka ?? Kafka, topic ?? Topic, Partitions);

    public static List<CdcRecord> ReadAll(KafkaServer kafka, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        var ends = new Dictionary<int, long>();
        for (var p = 0; p < partitions; p++)
        {
            ends[p] = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30)).High.Value;
        }

        var records = new List<CdcRecord>();
        var remaining = ends.Where(e => e.Value > 0).Select(e => e.Key).ToHashSet();
        consumer.Assign(remaining.Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (remaining.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Reading {topic} timed out with partitions {string.Join(",", remaining)} unread.");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result?.Message is not { } message)
            {
                continue;
            }

            records.Add(new CdcRecord(
                result.Topic,
                result.Partition.Value,
                result.Offset.Value,
                message.Key ?? [],
                message.Value ?? [],
                message.Headers?.Select(h => new KeyValuePair<string, byte[]?>(h.Key, h.GetValueBytes())).ToList() ?? []));
            if (result.Offset.Value + 1 >= ends[result.Partition.Value])
            {
                remaining.Remove(result.Partition.Value);
            }
        }

        return records;
    }

    public static CdcTestEvent EventOf(CdcRecord record) => JsonSerializer.Deserialize<CdcTestEvent>(record.Value, Json)!;

    /// <summary>
    /// Checks that every written event arrived and each key's events in order: after dropping repeats, each key's
    /// sequence numbers must be exactly 0..n-1 in that order. Returns the records that repeat an earlier one.
    /// </summary>
    public List<CdcRecord> AssertAllInOrder(IReadOnlyList<CdcRecord> records, IReadOnlyCollection<WrittenRow>? excluded = null)
    {
        excluded ??= [];
        var byKey = records.GroupBy(r => r.KeyText).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Offset).ToList());
        var duplicates = new List<CdcRecord>();
        var problems = new List<string>();
        foreach (var (key, count) in _nextSeq)
        {
            if (!byKey.TryGetValue(key, out var list))
            {
                problems.Add($"{key}: nothing arrived");
                continue;
            }

            if (list.Select(r => r.Partition).Distinct().Count() != 1)
            {
                problems.Add($"{key}: spread over several partitions");
            }

            var seen = new HashSet<int>();
            var firsts = new List<int>();
            foreach (var record in list)
            {
                var seq = EventOf(record).Seq;
                if (seen.Add(seq))
                {
                    firsts.Add(seq);
                }
                else
                {
                    duplicates.Add(record);
                }
            }

            var expected = Enumerable.Range(0, count).Where(seq => !excluded.Any(e => e.Key == key && e.Seq == seq)).ToList();
            if (!firsts.SequenceEqual(expected))
            {
                problems.Add($"{key}: expected 0..{count - 1} in order, got {string.Join(",", firsts.Take(40))}{(firsts.Count > 40 ? "..." : "")}");
            }
        }

        Assert.True(problems.Count == 0, $"{problems.Count} keys out of order or missing:\n" + string.Join("\n", problems.Take(20)));
        Assert.Equal(_nextSeq.Count, byKey.Count);
        Output.WriteLine($"{records.Count} records for {_nextSeq.Values.Sum() - excluded.Count} events: {duplicates.Count} duplicates.");
        return duplicates;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            try
            {
                await host.StopAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or AggregateException or OutboxException or ArgumentNullException)
            {
                // Already stopped by the test, or its start failed (stopping a host whose start failed before its
                // hosted services were resolved throws ArgumentNullException).
            }

            host.Dispose();
        }

        try
        {
            await Eventually.TrueAsync(async () => !(await ReadSlotAsync()).Active, "the slot is released", TimeSpan.FromSeconds(30));
            await using var drop = DataSource.CreateCommand("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1");
            drop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = SlotName });
            await drop.ExecuteNonQueryAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The server may be gone (tests with their own cluster); leftover slots are dropped by the next setup.
        }

        await _writerServices.DisposeAsync();
        await DataSource.DisposeAsync();
    }
}
