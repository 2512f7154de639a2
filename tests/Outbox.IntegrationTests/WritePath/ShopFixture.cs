using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>A database of its own with the shop model and the outbox schema, and a service provider configured like an app.</summary>
public sealed class ShopFixture : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = "";

    public ServiceProvider Services { get; private set; } = null!;

    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public static void ConfigureOutbox(OutboxOptions o) =>
        o.MapEvent<AccountOpened>("account", e => e.AccountId.ToString())
         .MapEvent<AccountRenamed>("account", e => e.AccountId.ToString())
         .MapEvent<BigEvent>("big", e => e.Key);

    public async Task InitializeAsync()
    {
        ConnectionString = await SharedInfrastructure.CreateDatabaseAsync("writepath");
        DataSource = NpgsqlDataSource.Create(ConnectionString);
        Services = BuildServices(ConnectionString);

        // EF creates its model (the outbox table included), then the outbox script adds what EF cannot (trigger, sequence, other tables).
        await using (var scope = Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ShopDb>().Database.EnsureCreatedAsync();
        }

        await OutboxSchema.EnsureCreatedAsync(DataSource, OutboxOptionsFor(Services));
    }

    public static ServiceProvider BuildServices(string connectionString, Action<DbContextOptionsBuilder>? configureDb = null, Action<OutboxOptions>? configureOutbox = null)
    {
        var services = new ServiceCollection();
        services.AddOutbox(o =>
        {
            ConfigureOutbox(o);
            configureOutbox?.Invoke(o);
        }).UsePostgreSql(connectionString);
        services.AddDbContext<ShopDb>((sp, b) =>
        {
            b.UseNpgsql(connectionString).UseOutbox(sp);
            configureDb?.Invoke(b);
        });
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static OutboxOptions OutboxOptionsFor(IServiceProvider services) =>
        services.GetRequiredService<Microsoft.Extensions.Options.IOptions<OutboxOptions>>().Value;

    public ShopDb NewContext() => Services.CreateScope().ServiceProvider.GetRequiredService<ShopDb>();

    public async Task<List<OutboxRow>> ReadOutboxAsync()
    {
        var rows = new List<OutboxRow>();
        await using var cmd = DataSource.CreateCommand(
            "SELECT id, aggregatetype, aggregateid, type, payload::text, lane, commit_seq, traceparent FROM outbox.messages ORDER BY commit_seq NULLS LAST, id");
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new OutboxRow(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt64(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }

        return rows;
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<string?> ScalarTextAsync(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        return (string?)await cmd.ExecuteScalarAsync();
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var cmd = DataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Empties the business and outbox tables (test methods of one class run one after another).</summary>
    public Task ResetAsync() => ExecuteAsync("TRUNCATE accounts, audits, outbox.messages");

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        await DataSource.DisposeAsync();
    }
}

public sealed record OutboxRow(Guid Id, string AggregateType, string AggregateId, string Type, string Payload, int Lane, long? CommitSequence, string? TraceParent);
