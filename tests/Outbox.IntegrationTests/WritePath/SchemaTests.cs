using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.WritePath;

public sealed class SchemaTests
{
    private sealed class OutboxOnlyDb(DbContextOptions<OutboxOnlyDb> options) : DbContext(options);

    [Fact]
    public async Task EF_model_and_SQL_script_create_the_same_table_columns_and_indexes()
    {
        var options = new OutboxOptions();
        var efDatabase = await SharedInfrastructure.CreateDatabaseAsync("schema_ef");
        var scriptDatabase = await SharedInfrastructure.CreateDatabaseAsync("schema_sql");

        var services = new ServiceCollection();
        services.AddOutbox().UsePostgreSql(efDatabase);
        services.AddDbContext<OutboxOnlyDb>((sp, b) => b.UseNpgsql(efDatabase).UseOutbox(sp));
        await using (var sp = services.BuildServiceProvider())
        await using (var scope = sp.CreateAsyncScope())
        {
            Assert.True(await scope.ServiceProvider.GetRequiredService<OutboxOnlyDb>().Database.EnsureCreatedAsync());
        }

        await using var scriptSource = NpgsqlDataSource.Create(scriptDatabase);
        await OutboxSchema.EnsureCreatedAsync(scriptSource, options);
        await using var efSource = NpgsqlDataSource.Create(efDatabase);

        var efShape = await DescribeAsync(efSource);
        var scriptShape = await DescribeAsync(scriptSource);

        Assert.NotEmpty(efShape.Columns);
        Assert.Equal(scriptShape.Columns, efShape.Columns);
        Assert.Equal(scriptShape.Indexes, efShape.Indexes);
        Assert.Contains(efShape.Indexes, i => i.Contains("(lane, commit_seq) WHERE (published_at IS NULL)", StringComparison.Ordinal));
        Assert.Contains(efShape.Indexes, i => i.StartsWith("CREATE UNIQUE INDEX pk_messages", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Script_is_idempotent_and_safe_to_run_concurrently()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("schema_idem");
        await using var source = NpgsqlDataSource.Create(database);
        var options = new OutboxOptions();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => OutboxSchema.EnsureCreatedAsync(source, options)));
        await OutboxSchema.EnsureCreatedAsync(source, options);

        await using var cmd = source.CreateCommand(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox.messages'::regclass AND NOT tgisinternal");
        Assert.Equal(1L, await cmd.ExecuteScalarAsync());
        await using var lanes = source.CreateCommand("SELECT count(*) FROM outbox.lanes");
        Assert.Equal(64L, await lanes.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Names_that_are_SQL_keywords_are_quoted_everywhere()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("schema_kw");
        var options = new OutboxOptions { Schema = "select", MessagesTable = "order", LanesTable = "group", DeadLettersTable = "table", InboxTable = "from", InboxOffsetsTable = "where" };
        options.MapEvent<AccountOpened>("account", e => e.AccountId.ToString());
        await using var source = NpgsqlDataSource.Create(database);
        await OutboxSchema.EnsureCreatedAsync(source, options);

        var services = new ServiceCollection();
        services.AddOutbox(o =>
        {
            o.Schema = options.Schema;
            o.MessagesTable = options.MessagesTable;
            o.LanesTable = options.LanesTable;
            o.DeadLettersTable = options.DeadLettersTable;
            o.InboxTable = options.InboxTable;
            o.InboxOffsetsTable = options.InboxOffsetsTable;
            o.MapEvent<AccountOpened>("account", e => e.AccountId.ToString());
        }).UsePostgreSql(database);
        await using var sp = services.BuildServiceProvider();
        var writer = sp.GetRequiredService<OutboxWriter>();
        await using (var connection = await source.OpenConnectionAsync())
        {
            await writer.EnqueueAsync(connection, null, new AccountOpened(Guid.NewGuid(), "kw"));
            await writer.EnqueueBatchAsync(connection, null, [new AccountOpened(Guid.NewGuid(), "kw2")]);
        }

        await using var cmd = source.CreateCommand("SELECT count(*) FROM \"select\".\"order\" WHERE commit_seq IS NOT NULL");
        Assert.Equal(2L, await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public void Hostile_identifiers_never_reach_the_script()
    {
        var ex = Assert.Throws<OutboxConfigurationException>(() =>
            OutboxSchema.CreateScript(new OutboxOptions { MessagesTable = "x\"; DROP TABLE y; --" }));
        Assert.Contains("OutboxOptions.MessagesTable", ex.Message, StringComparison.Ordinal);
    }

    private static async Task<(List<string> Columns, List<string> Indexes)> DescribeAsync(NpgsqlDataSource source)
    {
        var columns = new List<string>();
        await using (var cmd = source.CreateCommand(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'outbox' AND table_name = 'messages' ORDER BY column_name"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                columns.Add($"{reader.GetString(0)} {reader.GetString(1)} {reader.GetString(2)}");
            }
        }

        var indexes = new List<string>();
        await using (var cmd = source.CreateCommand("SELECT indexdef FROM pg_indexes WHERE schemaname = 'outbox' AND tablename = 'messages' ORDER BY indexname"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                indexes.Add(reader.GetString(0));
            }
        }

        return (columns, indexes);
    }
}
