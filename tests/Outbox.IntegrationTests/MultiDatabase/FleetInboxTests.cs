using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.IntegrationTests.Inbox;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.MultiDatabase;

/// <summary>
/// An inbox consumer in an application whose outbox spans many databases: its inbox, offsets and effects live in the
/// database its DbContext uses (here a central one of the fleet, whose schema the fleet created), and it handles the
/// events relayed from every tenant database exactly once.
/// </summary>
public sealed class FleetInboxTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_consumer_whose_context_uses_one_database_of_the_fleet_handles_the_events_of_every_tenant_once()
    {
        var server = await SharedInfrastructure.PostgresAsync();
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "fleet-inbox-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", 4);
        var central = new OutboxDatabase("central", await server.CreateDatabaseAsync("central"));
        var tenants = new[] { new OutboxDatabase("t1", await server.CreateDatabaseAsync("tenant")), new OutboxDatabase("t2", await server.CreateDatabaseAsync("tenant")) };

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "app"));
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Services.AddSingleton(new HandlerBehavior());
        builder.Services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(central.ConnectionString).UseOutbox(sp));
        builder.Services.AddOutbox(o =>
            {
                o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
                o.MapEvent<MovieStarted>("movie", e => e.UserId);
            })
            .UsePostgreSqlDatabases(o =>
            {
                o.EnsureSchemaOnStart = true;
                o.Databases.Add(central);
                foreach (var tenant in tenants)
                {
                    o.Databases.Add(tenant);
                }
            })
            .UseKafka(k =>
            {
                k.BootstrapServers = kafka.BootstrapServers;
                k.Consumer.SessionTimeoutMs = 3000;
                k.Consumer.HeartbeatIntervalMs = 300;
            })
            .AddPollingRelay(o => o.PollInterval = TimeSpan.FromMilliseconds(200))
            .AddConsumer<InboxTestDb>("fleet-group-" + prefix, c => c.Subscribe<MovieStarted, RecordingHandler>());
        using var host = builder.Build();

        // The application's own table in the central database; the fleet adds the outbox and inbox tables at start.
        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<InboxTestDb>().Database.EnsureCreatedAsync();
        }

        await host.StartAsync();
        var writer = host.Services.GetRequiredService<OutboxWriter>();
        foreach (var (tenant, i) in tenants.Select((t, i) => (t, i)))
        {
            await using var dataSource = NpgsqlDataSource.Create(tenant.ConnectionString);
            await using var connection = await dataSource.OpenConnectionAsync();
            for (var n = 0; n < 10; n++)
            {
                await using var tx = await connection.BeginTransactionAsync();
                await writer.EnqueueAsync(connection, tx, new MovieStarted(tenant.Name + "-user-" + (n % 3), n));
                await tx.CommitAsync();
            }
        }

        await using var centralSource = NpgsqlDataSource.Create(central.ConnectionString);
        await Eventually.TrueAsync(
            async () =>
            {
                await using var count = centralSource.CreateCommand("SELECT count(*) FROM effects");
                return (long)(await count.ExecuteScalarAsync())! >= 20;
            },
            "the consumer handled the 20 events");

        await using var distinct = centralSource.CreateCommand("SELECT count(*), count(DISTINCT event_id) FROM effects");
        await using var reader = await distinct.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(20, reader.GetInt64(0));
        Assert.Equal(20, reader.GetInt64(1));
        await host.StopAsync();
    }
}
