using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>docs/operations.md, "Uninstalling": the documented statements leave no slot, publication or outbox object.</summary>
[Collection(CdcCollection.Name)]
public sealed class UninstallTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_documented_statements_remove_the_slot_the_publication_and_every_outbox_object()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var host = await harness.StartRelayHostAsync("relay");
        await harness.WaitUntilStreamingAsync(host);
        await harness.WriteAsync(5, keys: 1);
        await harness.WaitAsync(() => CdcHarness.MonitorOf(host).PublishedCount >= 5, "the rows are published");
        await host.StopAsync();
        await harness.WaitAsync(async () => !(await harness.ReadSlotAsync()).Active, "the stopped relay's slot is inactive");

        await ExecuteAsync(harness.DataSource, $"SELECT pg_drop_replication_slot('{harness.SlotName}')");
        await ExecuteAsync(harness.DataSource, "DROP PUBLICATION IF EXISTS outbox");
        await ExecuteAsync(harness.DataSource, "DROP SCHEMA outbox CASCADE");

        Assert.False((await harness.ReadSlotAsync()).Exists);
        Assert.Equal(0L, await ScalarAsync(harness.DataSource, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(0L, await ScalarAsync(harness.DataSource, "SELECT count(*) FROM pg_namespace WHERE nspname = 'outbox'"));
        Assert.Equal(0L, await ScalarAsync(harness.DataSource, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'messages%'"));
        Assert.Equal(0L, await ScalarAsync(harness.DataSource, "SELECT count(*) FROM pg_class WHERE relname LIKE 'messages%' OR relname LIKE 'inbox%' OR relname LIKE 'lanes%' OR relname = 'dead_letters'"));
    }

    [Fact]
    public async Task The_documented_one_by_one_statements_remove_every_outbox_object_and_keep_the_apps_table()
    {
        var cs = await CdcInfrastructure.CreateDatabaseAsync("uninstall");
        await using var dataSource = NpgsqlDataSource.Create(cs);
        await OutboxSchema.EnsureCreatedAsync(dataSource, new OutboxOptions());
        await ExecuteAsync(dataSource, "CREATE TABLE outbox.app_orders (id int PRIMARY KEY)");

        var operations = RepositoryFiles.Read("docs", "operations.md");
        var uninstalling = operations[operations.IndexOf("## Uninstalling", StringComparison.Ordinal)..];
        var block = System.Text.RegularExpressions.Regex.Matches(uninstalling, @"^```sql\n(.*?)^```", System.Text.RegularExpressions.RegexOptions.Multiline | System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => m.Groups[1].Value)
            .Single(sql => sql.Contains("DROP TABLE", StringComparison.Ordinal));
        output.WriteLine(block);
        await ExecuteAsync(dataSource, block);

        Assert.Equal(
            "app_orders,app_orders_pkey",
            string.Join(",", await ListAsync(dataSource, "SELECT relname FROM pg_class WHERE relnamespace = 'outbox'::regnamespace ORDER BY relname")));
        Assert.Empty(await ListAsync(dataSource, "SELECT proname::text FROM pg_proc WHERE pronamespace = 'outbox'::regnamespace"));
        Assert.Empty(await ListAsync(dataSource, "SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal"));
    }

    private static async Task<List<string>> ListAsync(NpgsqlDataSource dataSource, string sql)
    {
        var values = new List<string>();
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
