using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka;
using Outbox.Kafka.Publishing;
using Outbox.PostgreSql;
using Outbox.Providers;
using Outbox.Relay;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>
/// A database with the outbox schema, a topic of its own, a writer, relay hosts configured like an application
/// (AddOutbox + UsePostgreSql + UseKafka + AddPollingRelay) or bare relay engines driven step by step, and a reader of the topic.
/// </summary>
internal sealed class RelayHarness : IAsyncDisposable
{
    public const string AggregateType = "order";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly List<IHost> _hosts = [];
    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly ServiceProvider _writerServices;
    private readonly TestMeterFactory _meters = new();

    private RelayHarness(ITestOutputHelper output, string connectionString, KafkaServer kafka, string prefix, int laneCount, int partitions)
    {
        Output = output;
        ConnectionString = connectionString;
        Kafka = kafka;
        Prefix = prefix;
        LaneCount = laneCount;
        Partitions = partitions;
        DataSource = NpgsqlDataSource.Create(connectionString);
        var services = new ServiceCollection();
        services.AddOutbox(o => ConfigureOutbox(o)).UsePostgreSql(connectionString);
        _writerServices = services.BuildServiceProvider();
        Writer = _writerServices.GetRequiredService<OutboxWriter>();
    }

    public ITestOutputHelper Output { get; }

    public string ConnectionString { get; }

    public KafkaServer Kafka { get; }

    public string Prefix { get; }

    public int LaneCount { get; }

    public int Partitions { get; }

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

    public static async Task<RelayHarness> CreateAsync(ITestOutputHelper output, int laneCount = 64, int partitions = 8, KafkaServer? kafka = null)
    {
        var connectionString = await SharedInfrastructure.CreateDatabaseAsync("relay");
        kafka ??= await SharedInfrastructure.KafkaAsync();
        var harness = new RelayHarness(output, connectionString, kafka, "relay-" + Guid.NewGuid().ToString("N")[..12], laneCount, partitions);
        await OutboxSchema.EnsureCreatedAsync(harness.DataSource, harness.OutboxOptions);
        await kafka.CreateTopicAsync(harness.Topic, partitions);
        return harness;
    }

    public void ConfigureOutbox(OutboxOptions options)
    {
        options.LaneCount = LaneCount;
        options.TopicTemplate = Prefix + "." + OutboxOptions.AggregateTypePlaceholder;
        options.MapEvent<RelayTestEvent>(AggregateType, e => e.Key, nameof(RelayTestEvent));
    }

    public int LaneOf(string key) => LaneHash.Compute(key, LaneCount);

    /// <summary>The relay's limits in poison tests: the producer refuses payloads over 20,480 bytes that the writer (1 MiB) accepted.</summary>
    public static void SmallProducer(KafkaOptions options) => options.Producer.MessageMaxBytes = 20_480;

    /// <summary>The outbox limit that goes with <see cref="SmallProducer"/> (the relay refuses to start otherwise).</summary>
    public static void SmallPayloads(OutboxOptions options) => options.MaxPayloadBytes = 4096;

    /// <summary>Starts a relay host configured like an application.</summary>
    public async Task<IHost> StartRelayHostAsync(
        string name, Action<PollingRelayOptions>? configure = null, Action<KafkaOptions>? kafka = null, Action<OutboxOptions>? outbox = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddProvider(new TestOutputLoggerProvider(Output, name));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddOutbox(o =>
            {
                ConfigureOutbox(o);
                outbox?.Invoke(o);
            })
            .UsePostgreSql(ConnectionString)
            .UseKafka(k =>
            {
                k.BootstrapServers = Kafka.BootstrapServers;
                kafka?.Invoke(k);
            })
            .AddPollingRelay(o =>
            {
                o.InstanceId = name;
                o.LeaseDuration = TimeSpan.FromSeconds(5);
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                o.PollInterval = TimeSpan.FromMilliseconds(500);
                configure?.Invoke(o);
            });
        var host = builder.Build();
        await host.StartAsync();
        _hosts.Add(host);
        return host;
    }

    public static PollingRelay RelayOf(IHost host) => host.Services.GetRequiredService<PollingRelay>();

    /// <summary>A bare relay engine whose iterations the test calls itself (no heartbeat unless the test runs one).</summary>
    public PollingRelay CreateEngine(
        string instanceId, IOutboxPublisher publisher, Action<PollingRelayOptions>? configure = null, bool retainPublished = false, Func<IPollingRelayStore, IPollingRelayStore>? wrapStore = null)
    {
        var options = new PollingRelayOptions
        {
            InstanceId = instanceId,
            LeaseDuration = TimeSpan.FromSeconds(2),
            HeartbeatInterval = TimeSpan.FromMilliseconds(500),
            PublishedRetention = retainPublished ? TimeSpan.FromHours(1) : null,
        };
        configure?.Invoke(options);
        IPollingRelayStore store = new PostgreSqlPollingStore(DataSource, OutboxOptions, options.PublishedRetention is not null);
        store = wrapStore?.Invoke(store) ?? store;
        return new PollingRelay(store, publisher, options, OutboxOptions, TimeProvider.System, new RelayTelemetry(_meters), new TestOutputLoggerFactory(Output, instanceId).CreateLogger<PollingRelay>());
    }

    public KafkaOutboxPublisher CreatePublisher(Action<KafkaOptions>? configure = null, Action<OutboxOptions>? outbox = null)
    {
        var options = new KafkaOptions { BootstrapServers = Kafka.BootstrapServers };
        configure?.Invoke(options);
        var outboxOptions = OutboxOptions;
        outbox?.Invoke(outboxOptions);
        var publisher = new KafkaOutboxPublisher(options, outboxOptions, new PublishTelemetry(_meters), NullLogger<KafkaOutboxPublisher>.Instance);
        _disposables.Add(publisher);
        return publisher;
    }

    /// <summary>Writes the events in one transaction.</summary>
    public async Task WriteAsync(params RelayTestEvent[] events)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        foreach (var e in events)
        {
            await Writer.EnqueueAsync(connection, tx, e);
        }

        await tx.CommitAsync();
    }

    /// <summary>Writes <paramref name="count"/> events spread over <paramref name="keys"/> keys, one key's events in order, in transactions of up to 20.</summary>
    /// <param name="written">Events written so far per key (the next sequence number); updated and returned.</param>
    public async Task<Dictionary<string, int>> WriteManyAsync(int count, int keys, string keyPrefix = "k", Dictionary<string, int>? written = null)
    {
        var seqs = written ?? [];
        var events = new List<object>();
        for (var i = 0; i < count; i++)
        {
            var key = keyPrefix + (i % keys);
            seqs.TryGetValue(key, out var seq);
            seqs[key] = seq + 1;
            events.Add(new RelayTestEvent(key, seq));
        }

        await using var connection = await DataSource.OpenConnectionAsync();
        foreach (var chunk in events.Chunk(20))
        {
            await using var tx = await connection.BeginTransactionAsync();
            await Writer.EnqueueBatchAsync(connection, tx, chunk);
            await tx.CommitAsync();
        }

        return seqs;
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task<long> PendingAsync() => ScalarAsync("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL");

    public Task WaitUntilDrainedAsync(TimeSpan? timeout = null) =>
        Eventually.TrueAsync(async () => await PendingAsync() == 0, "the outbox is drained", timeout ?? TimeSpan.FromSeconds(120));

    /// <summary>Reads the topic from the beginning until <paramref name="expected"/> records arrived (then a little longer for stragglers).</summary>
    public List<PublishedRecord> ReadTopic(int expected, TimeSpan? timeout = null) => ReadTopic(Kafka.BootstrapServers, Topic, Partitions, expected, timeout);

    /// <summary>Reads <paramref name="topic"/> from the beginning until <paramref name="expected"/> records arrived, then until it is quiet.</summary>
    public static List<PublishedRecord> ReadTopic(string bootstrapServers, string topic, int partitions, int expected, TimeSpan? timeout = null)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<PublishedRecord>();
        var limit = Stopwatch.StartNew();
        var max = timeout ?? TimeSpan.FromSeconds(120);
        while (records.Count < expected && limit.Elapsed < max)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result?.Message is { } message)
            {
                records.Add(ToRecord(result, message));
            }
        }

        // Duplicates may follow: read whatever else is there until the topic is quiet.
        while (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { Message: { } message } more)
        {
            records.Add(ToRecord(more, message));
        }

        return records;
    }

    /// <summary>
    /// Checks that every written event arrived and that each key's events arrived in order: after dropping repeats,
    /// each key's sequence numbers must be exactly 0..n-1 in that order. Returns the number of duplicates.
    /// </summary>
    public int AssertAllInOrder(IReadOnlyList<PublishedRecord> records, IReadOnlyDictionary<string, int> written) => AssertAllInOrder(records, written, Output);

    /// <summary>The check of <see cref="AssertAllInOrder(IReadOnlyList{PublishedRecord}, IReadOnlyDictionary{string, int})"/>, for any topic and writer.</summary>
    public static int AssertAllInOrder(IReadOnlyList<PublishedRecord> records, IReadOnlyDictionary<string, int> written, ITestOutputHelper output)
    {
        var byKey = records.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Partition).ThenBy(r => r.Offset).ToList());
        var duplicates = 0;
        var problems = new List<string>();
        foreach (var (key, count) in written)
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

        Assert.True(problems.Count == 0, $"{problems.Count} keys out of order or missing:\n" + string.Join("\n", problems.Take(20)));
        Assert.Equal(written.Count, byKey.Count);
        output.WriteLine($"{records.Count} records for {written.Values.Sum()} events: {duplicates} duplicates.");
        return duplicates;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            try
            {
                await host.StopAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                // Already stopped by the test.
            }

            host.Dispose();
        }

        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        await _writerServices.DisposeAsync();
        await DataSource.DisposeAsync();
        _meters.Dispose();
    }

    private static PublishedRecord ToRecord(ConsumeResult<byte[], byte[]> result, Message<byte[], byte[]> message)
    {
        var headers = message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()));
        var evt = JsonSerializer.Deserialize<RelayTestEvent>(message.Value, Json)!;
        return new PublishedRecord(
            Encoding.UTF8.GetString(message.Key),
            evt.Seq,
            Guid.Parse(headers["id"]),
            headers["type"],
            result.Partition.Value,
            result.Offset.Value,
            headers);
    }
}
