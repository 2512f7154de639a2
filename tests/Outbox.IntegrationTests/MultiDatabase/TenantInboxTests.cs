using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.IntegrationTests.Inbox;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.MultiDatabase;

/// <summary>
/// The inbox routed by tenant (<c>RouteByTenant</c>): the relay of many databases stamps each record with its database's
/// name (header <c>outbox-database</c>), and the consumer runs each record's inbox transaction in that tenant's
/// database: effects, inbox rows, stored offsets and parked rows of a tenant live together.
/// </summary>
public sealed class TenantInboxTests(ITestOutputHelper output)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <param name="batch">Records per transaction (<see cref="InboxConsumerOptions.MaxBatchSize"/>): with batching, a
    /// batch is cut where the tenant changes, so no tenant's record commits in another tenant's database.</param>
    [Theory]
    [InlineData(1)]
    [InlineData(50)]
    public async Task Each_tenants_events_take_effect_once_in_its_own_database_with_its_offsets_there(int batch)
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 3, batch: batch);

        // Written before the relay runs, so the consumer meets the tenants' records interleaved and in bursts.
        using (var host = await setup.StartAsync(relay: false))
        {
            await setup.WriteAsync(perTenant: 12, keys: 4);
            await host.StopAsync();
        }

        using (var host = await setup.StartAsync(relay: true))
        {
            await setup.WaitForEffectsAsync(12);
            await host.StopAsync();
        }

        foreach (var tenant in setup.Tenants)
        {
            var (count, distinct) = await TenantSetup.CountEffectsAsync(tenant.ConnectionString);
            Assert.Equal(12, count);
            Assert.Equal(12, distinct);
            Assert.Equal(12, await setup.CountAsync(tenant.ConnectionString, "SELECT count(*) FROM outbox.inbox WHERE consumer_group = @group"));
            Assert.True(await setup.CountAsync(tenant.ConnectionString, "SELECT count(*) FROM outbox.inbox_offsets WHERE consumer_group = @group") >= 1, $"{tenant.Name} stores its offsets");

            // Per key, in the order written.
            var sequences = await TenantSetup.SequencesByUserAsync(tenant.ConnectionString);
            foreach (var (user, list) in sequences)
            {
                Assert.True(list.SequenceEqual(list.Order()), $"{tenant.Name}/{user}: {string.Join(",", list)}");
            }
        }

        Assert.Equal((0L, 0L), await TenantSetup.CountEffectsAsync(setup.Central.ConnectionString));
        Assert.Equal(0, await setup.CountAsync(setup.Central.ConnectionString, "SELECT count(*) FROM outbox.inbox_offsets WHERE consumer_group = @group"));

        var headers = setup.ReadTopicDatabaseHeaders(36);
        Assert.Equal(setup.Tenants.Select(t => t.Name).Order(), headers.Distinct().Order());
    }

    /// <summary>
    /// Kafka's committed offsets lag behind (here none is ever committed, as after crashes before every commit: the
    /// restarted consumer reads the topic from its start) and the inbox rows are gone (as after their retention): only
    /// the offsets stored in each tenant's database stand between the restarted consumer and a second effect. The events
    /// written meanwhile are handled once.
    /// </summary>
    [Fact]
    public async Task A_restarted_consumer_skips_what_each_tenant_finished_even_without_kafka_offsets_or_inbox_rows()
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 2, kafkaCommits: false);
        using (var host = await setup.StartAsync(relay: true))
        {
            await setup.WriteAsync(perTenant: 8, keys: 3);
            await setup.WaitForEffectsAsync(8);
            await host.StopAsync();
        }

        Assert.All(setup.KafkaCommittedOffsets(), o => Assert.Equal(Offset.Unset, o));
        foreach (var tenant in setup.Tenants)
        {
            await TenantSetup.ExecuteAsync(tenant.ConnectionString, "DELETE FROM outbox.inbox");
        }

        using (var host = await setup.StartAsync(relay: true))
        {
            await setup.WriteAsync(perTenant: 5, keys: 3, firstSequence: 100);
            await setup.WaitForEffectsAsync(13);
            await host.StopAsync();
        }

        foreach (var tenant in setup.Tenants)
        {
            Assert.Equal((13L, 13L), await TenantSetup.CountEffectsAsync(tenant.ConnectionString));
        }

        Assert.All(setup.Behavior.Calls.GroupBy(c => c.EventId), g => Assert.Single(g));
    }

    [Fact]
    public async Task A_parked_key_holds_only_its_tenants_records_and_is_replayed_from_that_tenants_database()
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 1, maxAttempts: 1);
        var (t1, t2) = (setup.Tenants[0], setup.Tenants[1]);
        setup.Behavior.FailuresBySequence[1] = int.MaxValue;
        using var host = await setup.StartAsync(relay: true);

        // The same key in two tenants: two aggregates. t1's first event fails for good and parks t1's key only.
        await setup.WriteOneAsync(t1, "u1", 1);
        await setup.WriteOneAsync(t1, "u1", 2);
        await setup.WriteOneAsync(t2, "u1", 3);
        await setup.WriteOneAsync(t2, "u1", 4);
        await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(t2.ConnectionString)).Count == 2, "t2's events of the same key are handled");
        await Eventually.TrueAsync(
            async () => await setup.CountAsync(t1.ConnectionString, "SELECT count(*) FROM outbox.inbox_parked WHERE consumer_group = @group") == 2,
            "t1's failed record and the one behind it are in t1's parked table");
        Assert.Equal((0L, 0L), await TenantSetup.CountEffectsAsync(t1.ConnectionString));
        Assert.Equal(0, await setup.CountAsync(setup.Central.ConnectionString, "SELECT count(*) FROM outbox.inbox_parked"));
        Assert.Equal(0, await setup.CountAsync(t2.ConnectionString, "SELECT count(*) FROM outbox.inbox_parked"));

        setup.Behavior.FailuresBySequence.Clear();
        await using (var t1Source = NpgsqlDataSource.Create(t1.ConnectionString))
        {
            Assert.True(await new InboxParking(t1Source, setup.OutboxOptions).ReplayAsync(setup.Group, setup.Topic, 0, "u1"));
        }

        await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(t1.ConnectionString)).Count == 2, "t1's parked key is replayed");
        Assert.Equal([1, 2], (await TenantSetup.SequencesByUserAsync(t1.ConnectionString))["u1"]);
        Assert.Equal(0, await setup.CountAsync(t1.ConnectionString, "SELECT count(*) FROM outbox.inbox_parked"));

        // And new events of t1's key are handled again.
        await setup.WriteOneAsync(t1, "u1", 5);
        await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(t1.ConnectionString)).Count == 3, "t1's key goes on");
        await host.StopAsync();
    }

    /// <summary>
    /// After a restart, a tenant with a parked key but no new record in the partition: the worker opens the listed
    /// tenants it has not met (a few per parked check), so an operator's replay in that tenant's database still runs.
    /// </summary>
    [Fact]
    public async Task A_replay_in_a_tenant_without_new_records_since_the_restart_runs()
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 1, maxAttempts: 1);
        var (t1, t2) = (setup.Tenants[0], setup.Tenants[1]);
        setup.Behavior.FailuresBySequence[1] = int.MaxValue;
        using (var host = await setup.StartAsync(relay: true))
        {
            await setup.WriteOneAsync(t1, "u1", 1);
            await Eventually.TrueAsync(
                async () => await setup.CountAsync(t1.ConnectionString, "SELECT count(*) FROM outbox.inbox_parked WHERE consumer_group = @group") == 1,
                "t1's record is parked in t1's database");
            await setup.WriteOneAsync(t2, "u9", 2);
            await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(t2.ConnectionString)).Count == 1, "t2's record is handled");
            await host.StopAsync();
        }

        setup.Behavior.FailuresBySequence.Clear();
        using (var host = await setup.StartAsync(relay: false))
        {
            await using (var t1Source = NpgsqlDataSource.Create(t1.ConnectionString))
            {
                Assert.True(await new InboxParking(t1Source, setup.OutboxOptions).ReplayAsync(setup.Group, setup.Topic, 0, "u1"));
            }

            await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(t1.ConnectionString)).Count == 1, "the replay in t1 runs without a new record of t1");
            Assert.Equal(0, await setup.CountAsync(t1.ConnectionString, "SELECT count(*) FROM outbox.inbox_parked"));
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_record_of_an_unknown_tenant_goes_to_the_dead_letter_topic_and_the_partition_goes_on()
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 1);
        using var host = await setup.StartAsync(relay: false);
        await setup.ProduceRawAsync("gone-tenant", "u1", 1);
        await setup.ProduceRawAsync(setup.Tenants[0].Name, "u1", 2);
        await setup.ProduceRawAsync(null, "u1", 3);
        await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(setup.Tenants[0].ConnectionString)).Count == 1, "the next record, of a known tenant, is handled");

        // A record without the header is handled in the consumer's own database.
        await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(setup.Central.ConnectionString)).Count == 1, "the record without a tenant is handled in the own database");
        var deadLetters = await setup.ReadDeadLettersAsync(1);
        var letter = Assert.Single(deadLetters);
        Assert.Equal("unknown-tenant", Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("dlq.reason")));
        Assert.Equal("gone-tenant", Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("outbox-database")));
        await host.StopAsync();
    }

    /// <summary>A tenant the application stops knowing while its records still come: they are dead-lettered, the others go on.</summary>
    [Fact]
    public async Task Records_of_a_tenant_that_went_away_are_dead_lettered_and_the_partition_goes_on()
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 1);
        var (t1, t3) = (setup.Tenants[0], setup.Tenants[2]);
        using var host = await setup.StartAsync(relay: true);
        await setup.WriteOneAsync(t3, "u1", 1);
        await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(t3.ConnectionString)).Count == 1, "t3's first record is handled");

        Assert.True(setup.KnownTenants.TryRemove(t3.Name, out _));
        await setup.WriteOneAsync(t3, "u1", 2);
        await setup.WriteOneAsync(t1, "u1", 3);
        await Eventually.TrueAsync(async () => (await TenantSetup.CountEffectsAsync(t1.ConnectionString)).Count == 1, "t1's record after it is handled");
        var letter = Assert.Single(await setup.ReadDeadLettersAsync(1));
        Assert.Equal("unknown-tenant", Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("dlq.reason")));
        Assert.Equal(t3.Name, Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("outbox-database")));
        Assert.Equal(1, (await TenantSetup.CountEffectsAsync(t3.ConnectionString)).Count);
        await host.StopAsync();
    }

    [Fact]
    public async Task The_cleanup_deletes_old_inbox_rows_in_every_tenants_database()
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 1, retention: TimeSpan.FromSeconds(1));
        using var host = await setup.StartAsync(relay: true);
        await setup.WriteAsync(perTenant: 3, keys: 1);
        await setup.WaitForEffectsAsync(3);
        foreach (var tenant in setup.Tenants)
        {
            await Eventually.TrueAsync(
                async () => await setup.CountAsync(tenant.ConnectionString, "SELECT count(*) FROM outbox.inbox") == 0,
                $"{tenant.Name}'s inbox rows older than the retention are deleted");
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task Routing_without_its_callbacks_fails_at_start_naming_what_is_missing()
    {
        await using var setup = await TenantSetup.CreateAsync(output, partitions: 1);
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(async () =>
        {
            using var host = await setup.StartAsync(relay: false, configureRouting: r => r.ListTenants = null);
        });
        Assert.Contains("ListTenants", error.Message, StringComparison.Ordinal);

        error = await Assert.ThrowsAsync<OutboxConfigurationException>(async () =>
        {
            using var host = await setup.StartAsync(relay: false, configureRouting: r => r.UseTenant = null);
        });
        Assert.Contains("UseTenant", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The scoped tenant of a DI scope: the consumer's <c>UseTenant</c> sets it; the context's connection string follows it.</summary>
    private sealed class TenantContext(System.Collections.Concurrent.ConcurrentDictionary<string, string> tenants)
    {
        public string? ConnectionString { get; private set; }

        public bool Use(string tenant)
        {
            if (!tenants.TryGetValue(tenant, out var connectionString))
            {
                return false;
            }

            ConnectionString = connectionString;
            return true;
        }
    }

    private sealed class TenantSetup : IAsyncDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly PostgresServer _server;
        private readonly KafkaServer _kafka;
        private readonly int _partitions;
        private readonly int _maxAttempts;
        private readonly TimeSpan? _retention;
        private readonly bool _kafkaCommits;
        private readonly string _prefix;
        private int _sequence;
        private IHost? _host;

        private TenantSetup(ITestOutputHelper output, PostgresServer server, KafkaServer kafka, int partitions, int maxAttempts, TimeSpan? retention, bool kafkaCommits, OutboxDatabase central, OutboxDatabase[] tenants)
        {
            _kafkaCommits = kafkaCommits;
            _output = output;
            _server = server;
            _kafka = kafka;
            _partitions = partitions;
            _maxAttempts = maxAttempts;
            _retention = retention;
            _prefix = "tenant-inbox-" + Guid.NewGuid().ToString("N")[..12];
            Central = central;
            Tenants = tenants;
            Group = "tenant-group-" + _prefix;
        }

        public OutboxDatabase Central { get; }

        public OutboxDatabase[] Tenants { get; }

        public string Group { get; }

        public string Topic => _prefix + ".movie";

        public HandlerBehavior Behavior { get; } = new();

        /// <summary>Gets the consumer's <see cref="InboxConsumerOptions.MaxBatchSize"/>.</summary>
        public int Batch { get; private init; } = 1;

        /// <summary>Gets the tenants the application knows (by name); a test may remove one.</summary>
        public System.Collections.Concurrent.ConcurrentDictionary<string, string> KnownTenants { get; } = new(StringComparer.Ordinal);

        public OutboxOptions OutboxOptions => new() { TopicTemplate = _prefix + "." + OutboxOptions.AggregateTypePlaceholder };

        public static async Task<TenantSetup> CreateAsync(ITestOutputHelper output, int partitions, int maxAttempts = 5, TimeSpan? retention = null, bool kafkaCommits = true, int batch = 1)
        {
            var server = await SharedInfrastructure.PostgresAsync();
            var kafka = await SharedInfrastructure.KafkaAsync();
            var central = new OutboxDatabase("central", await server.CreateDatabaseAsync("central"));
            var tenants = new OutboxDatabase[3];
            for (var i = 0; i < tenants.Length; i++)
            {
                tenants[i] = new OutboxDatabase("t" + (i + 1), await server.CreateDatabaseAsync("tenant"));
            }

            var setup = new TenantSetup(output, server, kafka, partitions, maxAttempts, retention, kafkaCommits, central, tenants) { Batch = batch };
            await kafka.CreateTopicAsync(setup.Topic, partitions);
            await kafka.CreateTopicAsync(setup.Topic + ".dlq", 1);

            // The application's own table in every database; the fleet adds the outbox and inbox tables at start.
            foreach (var database in tenants.Append(central))
            {
                var options = new DbContextOptionsBuilder<InboxTestDb>().UseNpgsql(database.ConnectionString).Options;
                await using var db = new InboxTestDb(options);
                await db.Database.EnsureCreatedAsync();
            }

            return setup;
        }

        public async Task<IHost> StartAsync(bool relay, Action<InboxTenantRouting>? configureRouting = null)
        {
            if (KnownTenants.IsEmpty)
            {
                foreach (var tenant in Tenants)
                {
                    KnownTenants[tenant.Name] = tenant.ConnectionString;
                }
            }

            var tenants = KnownTenants;
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new TestOutputLoggerProvider(_output, "app"));
            builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
            builder.Services.AddSingleton(Behavior);
            builder.Services.AddScoped(_ => new TenantContext(tenants));
            builder.Services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(sp.GetRequiredService<TenantContext>().ConnectionString ?? Central.ConnectionString).UseOutbox(sp));
            var outbox = builder.Services.AddOutbox(o =>
                {
                    o.TopicTemplate = _prefix + "." + OutboxOptions.AggregateTypePlaceholder;
                    o.MapEvent<MovieStarted>("movie", e => e.UserId);
                })
                .UsePostgreSqlDatabases(o =>
                {
                    o.EnsureSchemaOnStart = true;
                    o.Databases.Add(Central);
                    foreach (var tenant in Tenants)
                    {
                        o.Databases.Add(tenant);
                    }
                })
                .UseKafka(k =>
                {
                    k.BootstrapServers = _kafka.BootstrapServers;
                    k.Consumer.SessionTimeoutMs = 3000;
                    k.Consumer.HeartbeatIntervalMs = 300;
                    if (!_kafkaCommits)
                    {
                        k.Consumer.EnableAutoCommit = false;
                    }
                });
            if (relay)
            {
                outbox.AddPollingRelay(o => o.PollInterval = TimeSpan.FromMilliseconds(200));
            }

            outbox.AddConsumer<InboxTestDb>(Group, c => c
                .Subscribe<MovieStarted, RecordingHandler>()
                .RouteByTenant(r =>
                {
                    r.UseTenant = (sp, tenant) => sp.GetRequiredService<TenantContext>().Use(tenant);
                    r.ListTenants = (_, _) => ValueTask.FromResult<IReadOnlyCollection<string>>([.. tenants.Keys]);
                    configureRouting?.Invoke(r);
                })
                .Configure(o =>
                {
                    o.MaxAttempts = _maxAttempts;
                    o.MaxBatchSize = Batch;
                    o.InitialRetryDelay = TimeSpan.FromMilliseconds(50);
                    o.ParkedCheckInterval = TimeSpan.FromMilliseconds(200);
                    if (_retention is { } retention)
                    {
                        o.InboxRetention = retention;
                        o.CleanupInterval = TimeSpan.FromSeconds(1);
                    }
                }));
            var host = builder.Build();
            try
            {
                await host.StartAsync();
            }
            catch
            {
                host.Dispose();
                throw;
            }

            _host = host;
            return host;
        }

        /// <summary>Writes events to every tenant through the outbox (the relay stamps each with its database's name).</summary>
        public async Task WriteAsync(int perTenant, int keys, int firstSequence = 0)
        {
            foreach (var tenant in Tenants)
            {
                for (var n = 0; n < perTenant; n++)
                {
                    await WriteOneAsync(tenant, "u" + (n % keys), firstSequence + Interlocked.Increment(ref _sequence));
                }
            }
        }

        public async Task WriteOneAsync(OutboxDatabase tenant, string user, int sequence)
        {
            await using var dataSource = NpgsqlDataSource.Create(tenant.ConnectionString);
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var tx = await connection.BeginTransactionAsync();
            var writer = (_host ?? throw new InvalidOperationException("Start a host first.")).Services.GetRequiredService<OutboxWriter>();
            await writer.EnqueueAsync(connection, tx, new MovieStarted(user, sequence));
            await tx.CommitAsync();
        }

        public async Task WaitForEffectsAsync(int perTenant)
        {
            foreach (var tenant in Tenants)
            {
                await Eventually.TrueAsync(async () => (await CountEffectsAsync(tenant.ConnectionString)).Count >= perTenant, $"{tenant.Name} has {perTenant} effects");
            }
        }

        public static async Task<(long Count, long Distinct)> CountEffectsAsync(string connectionString)
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await using var command = dataSource.CreateCommand("SELECT count(*), count(DISTINCT event_id) FROM effects");
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return (reader.GetInt64(0), reader.GetInt64(1));
        }

        public static async Task<Dictionary<string, List<int>>> SequencesByUserAsync(string connectionString)
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await using var command = dataSource.CreateCommand("SELECT user_id, sequence FROM effects ORDER BY id");
            await using var reader = await command.ExecuteReaderAsync();
            var result = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            while (await reader.ReadAsync())
            {
                var user = reader.GetString(0);
                if (!result.TryGetValue(user, out var list))
                {
                    result[user] = list = [];
                }

                list.Add(reader.GetInt32(1));
            }

            return result;
        }

        public async Task<long> CountAsync(string connectionString, string sql)
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await using var command = dataSource.CreateCommand(sql);
            if (sql.Contains("@group", StringComparison.Ordinal))
            {
                command.Parameters.AddWithValue("group", Group);
            }

            return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }

        public static async Task ExecuteAsync(string connectionString, string sql)
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await using var command = dataSource.CreateCommand(sql);
            await command.ExecuteNonQueryAsync();
        }

        /// <summary>The group's committed Kafka offsets on the topic (<see cref="Offset.Unset"/> where none).</summary>
        public List<Offset> KafkaCommittedOffsets()
        {
            using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
            {
                BootstrapServers = _kafka.BootstrapServers,
                GroupId = Group,
                EnableAutoCommit = false,
            }).Build();
            return [.. consumer.Committed(Enumerable.Range(0, _partitions).Select(p => new TopicPartition(Topic, p)), TimeSpan.FromSeconds(30)).Select(c => c.Offset)];
        }

        /// <summary>Produces a record as a relay would, with the tenant header when given.</summary>
        public async Task ProduceRawAsync(string? tenant, string user, int sequence)
        {
            using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build();
            var headers = new Headers
            {
                { "id", Encoding.UTF8.GetBytes(Guid.NewGuid().ToString()) },
                { "type", Encoding.UTF8.GetBytes(nameof(MovieStarted)) },
            };
            if (tenant is not null)
            {
                headers.Add("outbox-database", Encoding.UTF8.GetBytes(tenant));
            }

            await producer.ProduceAsync(Topic, new Message<byte[], byte[]>
            {
                Key = Encoding.UTF8.GetBytes(user),
                Value = JsonSerializer.SerializeToUtf8Bytes(new MovieStarted(user, sequence), Json),
                Headers = headers,
            });
        }

        public async Task<List<ConsumeResult<byte[]?, byte[]?>>> ReadDeadLettersAsync(int count) =>
            await Task.Run(() => Read(Topic + ".dlq", 1, count));

        /// <summary>The <c>outbox-database</c> header of the first <paramref name="count"/> records of the topic.</summary>
        public List<string> ReadTopicDatabaseHeaders(int count) =>
            Read(Topic, _partitions, count).Select(r => Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes("outbox-database"))).ToList();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private List<ConsumeResult<byte[]?, byte[]?>> Read(string topic, int partitions, int count)
        {
            var records = new List<ConsumeResult<byte[]?, byte[]?>>();
            using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
            {
                BootstrapServers = _kafka.BootstrapServers,
                GroupId = "reader-" + Guid.NewGuid().ToString("N"),
                EnableAutoCommit = false,
            }).Build();
            consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
            var limit = DateTime.UtcNow + Eventually.DefaultTimeout;
            while (records.Count < count && DateTime.UtcNow < limit)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (result is not null && !result.IsPartitionEOF)
                {
                    records.Add(result);
                }
            }

            return records;
        }
    }
}
