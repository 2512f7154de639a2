using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.IntegrationTests.WritePath;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.MultiDatabase;

/// <summary>
/// The write path of a database-per-tenant application: one <see cref="ShopDb"/> type whose connection string is chosen per
/// request from the tenant, with <c>UseOutbox</c>; <c>SaveChanges</c> writes each tenant's events into that tenant's own
/// outbox table in the same transaction as its data, and the fleet of <c>UsePostgreSqlDatabases</c> relays every tenant.
/// </summary>
public sealed class TenantWritePathTests(ITestOutputHelper output)
{
    /// <summary>The application's per-request tenant (set by its middleware; here by the test).</summary>
    private sealed class Tenant
    {
        public string ConnectionString { get; set; } = "";
    }

    [Fact]
    public async Task SaveChanges_writes_each_tenants_events_into_its_own_database_and_the_fleet_publishes_them_all()
    {
        var server = await SharedInfrastructure.PostgresAsync();
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "tenants-" + Guid.NewGuid().ToString("N")[..12];
        var tenants = new OutboxDatabaseSet();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "app"));
        builder.Services.AddScoped<Tenant>();
        builder.Services.AddOutbox(o =>
            {
                ShopFixture.ConfigureOutbox(o);
                o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
            })
            .UsePostgreSqlDatabases(_ => tenants, o => o.EnsureSchemaOnStart = true)
            .UseKafka(k => k.BootstrapServers = kafka.BootstrapServers)
            .AddPollingRelay(o => o.PollInterval = TimeSpan.FromMilliseconds(200));
        builder.Services.AddDbContext<ShopDb>((sp, b) => b.UseNpgsql(sp.GetRequiredService<Tenant>().ConnectionString).UseOutbox(sp));
        using var host = builder.Build();

        // Each tenant's database: the application's tables (EF creates its model, the outbox table included), then the fleet adds the rest.
        var databases = new List<OutboxDatabase>();
        foreach (var name in new[] { "acme", "globex" })
        {
            var database = new OutboxDatabase(name, await server.CreateDatabaseAsync("tenant"));
            await using (var scope = host.Services.CreateAsyncScope())
            {
                scope.ServiceProvider.GetRequiredService<Tenant>().ConnectionString = database.ConnectionString;
                await scope.ServiceProvider.GetRequiredService<ShopDb>().Database.EnsureCreatedAsync();
            }

            databases.Add(database);
            tenants.Add(database);
        }

        await host.StartAsync();
        var monitor = host.Services.GetRequiredService<OutboxFleetMonitor>();
        await Eventually.TrueAsync(() => monitor.Databases.Count == 2 && monitor.Databases.All(d => d.Served), "both tenants are served");

        var opened = new Dictionary<string, List<Guid>>();
        foreach (var (database, count) in databases.Zip(new[] { 3, 5 }))
        {
            opened[database.Name] = [];
            for (var i = 0; i < count; i++)
            {
                await using var scope = host.Services.CreateAsyncScope();
                scope.ServiceProvider.GetRequiredService<Tenant>().ConnectionString = database.ConnectionString;
                var db = scope.ServiceProvider.GetRequiredService<ShopDb>();
                var account = new Account { Id = Guid.NewGuid(), Name = $"{database.Name}-{i}" };
                account.Raise(new AccountOpened(account.Id, account.Name));
                db.Accounts.Add(account);
                await db.SaveChangesAsync();
                opened[database.Name].Add(account.Id);
            }
        }

        // Each tenant's events are in its own database (and only there), and both are published.
        foreach (var database in databases)
        {
            await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
            await Eventually.TrueAsync(
                async () =>
                {
                    await using var pending = dataSource.CreateCommand("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL");
                    return (long)(await pending.ExecuteScalarAsync())! == 0;
                },
                $"{database.Name} is drained");
            await using var accounts = dataSource.CreateCommand("SELECT id FROM accounts ORDER BY name");
            var ids = new List<Guid>();
            await using (var reader = await accounts.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    ids.Add(reader.GetGuid(0));
                }
            }

            Assert.Equal(opened[database.Name], ids);
        }

        Assert.Equal(3, monitor.Databases.Single(d => d.Name == "acme").PublishedCount);
        Assert.Equal(5, monitor.Databases.Single(d => d.Name == "globex").PublishedCount);
        await host.StopAsync();
    }
}
