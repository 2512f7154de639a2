using System.Text;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Inbox;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// The order of the builder calls never matters: on a fresh database, <c>UsePostgreSql(..., EnsureSchemaOnStart)</c>
/// creates the schema before any host (CDC relay, polling relay, inbox consumer) starts, whether it is called before
/// or after the call that adds the host.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class BuilderOrderTests(ITestOutputHelper output)
{
    private const string Fresh = "fresh";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_cdc_relay_starts_on_a_fresh_database_whether_added_before_or_after_UsePostgreSql(bool relayFirst)
    {
        var database = await CdcInfrastructure.CreateTestDatabaseAsync("order_cdc");
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "order-" + Guid.NewGuid().ToString("N")[..12];
        using var host = Build(database.ConnectionString, prefix, relayFirst, outbox => outbox
            .UseKafka(k => k.BootstrapServers = kafka.BootstrapServers)
            .AddCdcRelay(o =>
            {
                o.SlotName = database.SlotName;
                o.PublicationName = database.PublicationName;
                o.AcknowledgeInterval = TimeSpan.FromMilliseconds(100);
            }));
        await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        await host.StartAsync();
        try
        {
            await WriteAsync(host, dataSource);
            var monitor = host.Services.GetRequiredService<CdcRelayMonitor>();
            await Eventually.TrueAsync(() => monitor.PublishedCount >= 1, "the CDC relay published the event");
        }
        finally
        {
            await host.StopAsync();
            await using var drop = dataSource.CreateCommand("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active");
            drop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database.SlotName });
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_polling_relay_starts_on_a_fresh_database_whether_added_before_or_after_UsePostgreSql(bool relayFirst)
    {
        var connectionString = await CdcInfrastructure.CreateDatabaseAsync("order_poll");
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "order-" + Guid.NewGuid().ToString("N")[..12];
        using var host = Build(connectionString, prefix, relayFirst, outbox => outbox
            .UseKafka(k => k.BootstrapServers = kafka.BootstrapServers)
            .AddPollingRelay(o => o.PollInterval = TimeSpan.FromMilliseconds(200)));
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await host.StartAsync();
        try
        {
            await WriteAsync(host, dataSource);
            await Eventually.TrueAsync(async () => await CountAsync(dataSource, "SELECT count(*) FROM outbox.messages") == 0, "the polling relay published the event");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_inbox_consumer_starts_on_a_fresh_database_whether_added_before_or_after_UsePostgreSql(bool consumerFirst)
    {
        var connectionString = await CdcInfrastructure.CreateDatabaseAsync("order_inbox");
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "order-" + Guid.NewGuid().ToString("N")[..12];
        var topic = prefix + ".movie";
        await kafka.CreateTopicAsync(topic, 1);
        var group = "order-" + (consumerFirst ? "first" : "last");

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "app"));
        builder.Services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(connectionString).UseOutbox(sp));
        var outbox = builder.Services.AddOutbox(o =>
        {
            o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
            o.MapEvent<MovieStarted>("movie", e => e.UserId);
        });
        void Consumer() => outbox.AddConsumer<InboxTestDb>(group, c => c.Subscribe<MovieStarted, NoOpHandler>().Configure(o =>
        {
            o.InitialRetryDelay = TimeSpan.FromMilliseconds(20);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(200);
        }));

        outbox.UseKafka(k =>
        {
            k.BootstrapServers = kafka.BootstrapServers;
            k.Consumer.SessionTimeoutMs = 3000;
            k.Consumer.HeartbeatIntervalMs = 300;
        });
        if (consumerFirst)
        {
            Consumer();
        }

        outbox.UsePostgreSql(connectionString, o => o.EnsureSchemaOnStart = true);
        if (!consumerFirst)
        {
            Consumer();
        }

        using var host = builder.Build();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await host.StartAsync();
        try
        {
            Assert.True(await CountAsync(dataSource, "SELECT count(*) FROM pg_tables WHERE schemaname = 'outbox' AND tablename = 'inbox'") == 1, "The schema exists once the host started.");
            using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
            {
                await producer.ProduceAsync(topic, new Message<byte[]?, byte[]?>
                {
                    Key = Encoding.UTF8.GetBytes("u1"),
                    Value = InboxHarness.Serialize(new MovieStarted("u1", 1)),
                    Headers = new Headers { { "id", Encoding.UTF8.GetBytes(Guid.CreateVersion7().ToString()) }, { "type", Encoding.UTF8.GetBytes(nameof(MovieStarted)) } },
                });
            }

            await Eventually.TrueAsync(
                async () => await CountAsync(dataSource, $"SELECT count(*) FROM outbox.inbox_offsets WHERE consumer_group = '{group}'") == 1,
                "the consumer handled the record and stored its offset");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private IHost Build(string connectionString, string prefix, bool hostFirst, Action<IOutboxBuilder> addHost)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "app"));
        var outbox = builder.Services.AddOutbox(o =>
        {
            o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
            o.MapEvent<CdcTestEvent>(Fresh, e => e.Key, nameof(CdcTestEvent));
        });
        if (hostFirst)
        {
            addHost(outbox);
        }

        outbox.UsePostgreSql(connectionString, o => o.EnsureSchemaOnStart = true);
        if (!hostFirst)
        {
            addHost(outbox);
        }

        return builder.Build();
    }

    private static async Task WriteAsync(IHost host, NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await host.Services.GetRequiredService<OutboxWriter>().EnqueueAsync(connection, null, new CdcTestEvent("k1", 0));
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
