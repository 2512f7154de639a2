using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>
/// A database and topics of one test, a plain Confluent.Kafka producer that writes records in the outbox's record
/// shape (key = aggregate id, value = JSON, headers id and type), and consumer hosts configured like an app.
/// </summary>
public sealed class InboxHarness : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly List<IHost> _hosts = [];
    private readonly ITestOutputHelper _output;
    private IProducer<byte[]?, byte[]?>? _producer;

    private InboxHarness(ITestOutputHelper output, string connectionString, KafkaServer kafka, string prefix)
    {
        _output = output;
        ConnectionString = connectionString;
        Kafka = kafka;
        Prefix = prefix;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string ConnectionString { get; }

    public KafkaServer Kafka { get; }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>Gets the unique topic prefix of this test.</summary>
    public string Prefix { get; }

    public string MovieTopic => Prefix + ".movie";

    public string DeadLetterTopic => MovieTopic + ".dlq";

    public string StreamTopic => Prefix + ".stream";

    public static async Task<InboxHarness> CreateAsync(ITestOutputHelper output, int partitions = 4, KafkaServer? privateKafka = null)
    {
        var connectionString = await SharedInfrastructure.CreateDatabaseAsync("inbox");
        var kafka = privateKafka ?? await SharedInfrastructure.KafkaAsync();
        var prefix = "inbox-" + Guid.NewGuid().ToString("N")[..12];
        var harness = new InboxHarness(output, connectionString, kafka, prefix);

        await using (var services = BuildSchemaServices(connectionString, prefix))
        await using (var scope = services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<InboxTestDb>().Database.EnsureCreatedAsync();
            await OutboxSchema.EnsureCreatedAsync(harness.DataSource, Options(prefix));
        }

        await kafka.CreateTopicAsync(harness.MovieTopic, partitions);
        await kafka.CreateTopicAsync(harness.DeadLetterTopic, 1);
        await kafka.CreateTopicAsync(harness.StreamTopic, 1);
        return harness;
    }

    public static OutboxOptions Options(string prefix)
    {
        var options = new OutboxOptions();
        ConfigureOutbox(options, prefix);
        return options;
    }

    /// <summary>Starts a consumer host (one consumer group member) like an application would.</summary>
    public async Task<IHost> StartConsumerAsync(
        string group,
        HandlerBehavior behavior,
        Action<IConsumerBuilder>? subscribe = null,
        Action<InboxConsumerOptions>? options = null,
        Action<ConsumerConfig>? consumerConfig = null,
        bool withPollingRelay = false,
        bool retryOnFailure = false,
        Action<IServiceCollection>? configureServices = null,
        Action<KafkaOptions>? kafka = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(new TestOutputLoggerProvider(_output, behavior.ConsumerName));
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Services.AddSingleton(behavior);
        builder.Services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(ConnectionString, npgsql =>
        {
            if (retryOnFailure)
            {
                npgsql.EnableRetryOnFailure();
            }
        }).UseOutbox(sp));
        var outbox = builder.Services.AddOutbox(o => ConfigureOutbox(o, Prefix))
            .UsePostgreSql(ConnectionString);
        if (withPollingRelay)
        {
            outbox.AddPollingRelay(r => r.PollInterval = TimeSpan.FromMilliseconds(200));
        }

        outbox
            .UseKafka(k =>
            {
                k.BootstrapServers = Kafka.BootstrapServers;

                // The mock cluster completes a classic rebalance only after session.timeout.ms - 1 s: keep it short.
                k.Consumer.SessionTimeoutMs = 3000;
                k.Consumer.HeartbeatIntervalMs = 300;
                consumerConfig?.Invoke(k.Consumer);
                kafka?.Invoke(k);
            })
            .AddConsumer<InboxTestDb>(group, c =>
            {
                if (subscribe is null)
                {
                    c.Subscribe<MovieStarted, RecordingHandler>();
                }
                else
                {
                    subscribe(c);
                }

                c.Configure(o =>
                {
                    o.InitialRetryDelay = TimeSpan.FromMilliseconds(20);
                    o.MaxRetryDelay = TimeSpan.FromMilliseconds(200);
                    o.ShutdownTimeout = TimeSpan.FromSeconds(5);
                    options?.Invoke(o);
                });
            });

        configureServices?.Invoke(builder.Services);
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync();
        return host;
    }

    public async Task StopAsync(IHost host)
    {
        await host.StopAsync();
        host.Dispose();
        _hosts.Remove(host);
    }

    /// <summary>Produces records in the outbox record shape; returns their ids in order.</summary>
    public async Task<List<string>> ProduceAsync(IEnumerable<MovieStarted> events)
    {
        var ids = new List<string>();
        foreach (var evt in events)
        {
            var id = Guid.CreateVersion7().ToString();
            await ProduceRawAsync(evt.UserId, JsonSerializer.SerializeToUtf8Bytes(evt, Json), id, nameof(MovieStarted));
            ids.Add(id);
        }

        return ids;
    }

    public async Task<TopicPartitionOffset> ProduceRawAsync(string? key, byte[]? value, string? id, string? type, string? topic = null, int? partition = null)
    {
        _producer ??= CreateProducer();
        var headers = new Headers();
        if (id is not null)
        {
            headers.Add("id", Encoding.UTF8.GetBytes(id));
        }

        if (type is not null)
        {
            headers.Add("type", Encoding.UTF8.GetBytes(type));
        }

        var message = new Message<byte[]?, byte[]?>
        {
            Key = key is null ? null : Encoding.UTF8.GetBytes(key),
            Value = value,
            Headers = headers,
        };
        var result = partition is { } p
            ? await _producer.ProduceAsync(new TopicPartition(topic ?? MovieTopic, p), message)
            : await _producer.ProduceAsync(topic ?? MovieTopic, message);
        return result.TopicPartitionOffset;
    }

    /// <summary>Produces many records fast (no wait per record); returns their ids in order.</summary>
    public List<string> ProduceMany(IEnumerable<MovieStarted> events)
    {
        _producer ??= CreateProducer();
        var ids = new List<string>();
        var failures = 0;
        foreach (var evt in events)
        {
            var id = Guid.CreateVersion7().ToString();
            var headers = new Headers { { "id", Encoding.UTF8.GetBytes(id) }, { "type", Encoding.UTF8.GetBytes(nameof(MovieStarted)) } };
            _producer.Produce(MovieTopic, new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(evt.UserId), Value = Serialize(evt), Headers = headers },
                report => { if (report.Error.IsError) { Interlocked.Increment(ref failures); } });
            ids.Add(id);
        }

        _producer.Flush(TimeSpan.FromSeconds(60));
        Assert.Equal(0, failures);
        return ids;
    }

    public static byte[] Serialize(MovieStarted evt) => JsonSerializer.SerializeToUtf8Bytes(evt, Json);

    public async Task<List<Effect>> EffectsAsync(string handler = nameof(RecordingHandler))
    {
        var effects = new List<Effect>();
        await using var cmd = DataSource.CreateCommand(
            "SELECT id, event_id, user_id, sequence, handler, consumer, attempt, \"offset\" FROM effects WHERE handler = $1 ORDER BY id");
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = handler });
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            effects.Add(new Effect
            {
                Id = reader.GetInt64(0),
                EventId = reader.GetString(1),
                UserId = reader.GetString(2),
                Sequence = reader.GetInt32(3),
                Handler = reader.GetString(4),
                Consumer = reader.GetString(5),
                Attempt = reader.GetInt32(6),
                Offset = reader.GetInt64(7),
            });
        }

        return effects;
    }

    public async Task<long> ScalarAsync(string sql, params object[] parameters)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>The rows of the inbox's parked table of a group, in (partition, offset) order.</summary>
    public async Task<List<ParkedRow>> ParkedAsync(string group)
    {
        var rows = new List<ParkedRow>();
        await using var cmd = DataSource.CreateCommand(
            "SELECT partition, \"offset\", convert_from(record_key, 'UTF8'), message_id, state, reason, error, attempts, replay_requested_at IS NOT NULL " +
            "FROM outbox.inbox_parked WHERE consumer_group = $1 ORDER BY partition, \"offset\"");
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new ParkedRow(
                reader.GetInt32(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetInt32(7), reader.GetBoolean(8)));
        }

        return rows;
    }

    /// <summary>The stored next offsets of a group: partition to offset.</summary>
    public async Task<Dictionary<int, long>> StoredOffsetsAsync(string group)
    {
        var offsets = new Dictionary<int, long>();
        await using var cmd = DataSource.CreateCommand("SELECT partition, next_offset FROM outbox.inbox_offsets WHERE consumer_group = $1 AND topic = $2");
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = group });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = MovieTopic });
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            offsets[reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return offsets;
    }

    /// <summary>Reads the dead-letter topic from its start until <paramref name="count"/> records arrived.</summary>
    public async Task<List<ConsumeResult<byte[]?, byte[]?>>> ReadDeadLettersAsync(int count, TimeSpan? timeout = null)
    {
        var records = new List<ConsumeResult<byte[]?, byte[]?>>();
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = Kafka.BootstrapServers,
            GroupId = "dlq-reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(DeadLetterTopic, 0, Offset.Beginning));
        var limit = DateTime.UtcNow + (timeout ?? Eventually.DefaultTimeout);
        await Task.Run(() =>
        {
            while (records.Count < count && DateTime.UtcNow < limit)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (result is not null && !result.IsPartitionEOF)
                {
                    records.Add(result);
                }
            }
        });
        return records;
    }

    /// <summary>The committed Kafka offsets of a group on the movie topic (Offset.Unset when none).</summary>
    public List<TopicPartitionOffset> KafkaCommittedOffsets(string group, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = Kafka.BootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
        }).Build();
        return consumer.Committed(
            Enumerable.Range(0, partitions).Select(p => new TopicPartition(MovieTopic, p)),
            TimeSpan.FromSeconds(30));
    }

    public static string Header(ConsumeResult<byte[]?, byte[]?> record, string name) =>
        record.Message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : throw new KeyNotFoundException($"Header '{name}' is missing.");

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts.ToArray())
        {
            try
            {
                await host.StopAsync();
            }
            finally
            {
                host.Dispose();
            }
        }

        _producer?.Dispose();
        await DataSource.DisposeAsync();
    }

    private IProducer<byte[]?, byte[]?> CreateProducer() =>
        new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = Kafka.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 1,
        }).Build();

    private static void ConfigureOutbox(OutboxOptions o, string prefix)
    {
        o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
        o.MapEvent<MovieStarted>("movie", e => e.UserId)
         .MapEvent<MovieRated>("movie", e => e.UserId)
         .MapEvent<StreamOpened>("stream", e => e.UserId);
    }

    private static ServiceProvider BuildSchemaServices(string connectionString, string prefix)
    {
        var services = new ServiceCollection();
        services.AddOutbox(o => ConfigureOutbox(o, prefix)).UsePostgreSql(connectionString);
        services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(connectionString).UseOutbox(sp));
        return services.BuildServiceProvider();
    }
}

/// <summary>A row of the inbox's parked table as the tests look at it.</summary>
public sealed record ParkedRow(int Partition, long Offset, string? Key, string? MessageId, string State, string Reason, string? Error, int Attempts, bool ReplayRequested);
