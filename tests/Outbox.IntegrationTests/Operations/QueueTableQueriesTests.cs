using System.Text.RegularExpressions;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Operations;

/// <summary>
/// docs/queue-tables.md: every <c>sql</c> block (the recommended settings and the watch queries) runs on a database with
/// the outbox schema, and the queries show what the page says they show.
/// </summary>
public sealed partial class QueueTableQueriesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_settings_apply_and_the_watch_queries_show_dead_rows_and_an_idle_transaction()
    {
        var cs = await SharedInfrastructure.CreateDatabaseAsync("queue");
        await using var dataSource = NpgsqlDataSource.Create(cs);
        await OutboxSchema.EnsureCreatedAsync(dataSource, new OutboxOptions());
        var markdown = RepositoryFiles.Read("docs", "queue-tables.md");
        var blocks = SqlBlock().Matches(markdown).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= 5, $"docs/queue-tables.md has {blocks.Count} sql blocks");

        // A session idle in a transaction that holds a snapshot: the long-transaction query must list it.
        await using var idle = await dataSource.OpenConnectionAsync();
        await using var idleTransaction = await idle.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using (var snapshot = new NpgsqlCommand("SELECT count(*) FROM outbox.messages", idle, idleTransaction))
        {
            await snapshot.ExecuteScalarAsync();
        }

        var idlePid = idle.ProcessID;
        var results = new List<(string Sql, List<Dictionary<string, object?>> Rows)>();
        foreach (var block in blocks)
        {
            foreach (var statement in Statements(block))
            {
                output.WriteLine(statement);
                results.Add((statement, await QueryAsync(dataSource, statement)));
            }
        }

        Assert.Equal(
            ["0", "10000", "0", "10000", "0", "10000", "0"],
            await ReloptionsAsync(dataSource, "messages", "autovacuum_vacuum_scale_factor", "autovacuum_vacuum_threshold", "autovacuum_vacuum_insert_scale_factor",
                "autovacuum_vacuum_insert_threshold", "autovacuum_analyze_scale_factor", "autovacuum_analyze_threshold", "autovacuum_vacuum_cost_delay"));
        foreach (var table in new[] { "lanes", "lanes_instances", "inbox_offsets" })
        {
            Assert.Equal(["0", "1000", "0", "50"], await ReloptionsAsync(dataSource, table, "autovacuum_vacuum_scale_factor", "autovacuum_vacuum_threshold", "autovacuum_vacuum_cost_delay", "fillfactor"));
        }

        var tables = results.Single(r => r.Sql.Contains("pg_stat_user_tables", StringComparison.Ordinal)).Rows;
        Assert.Contains(tables, r => (string?)r["relname"] == "messages");
        var transactions = results.Single(r => r.Sql.Contains("pg_stat_activity", StringComparison.Ordinal)).Rows;
        Assert.Contains(transactions, r => (int?)r["pid"] == idlePid && (string?)r["state"] == "idle in transaction" && r["xmin_age"] is not null);
        Assert.Single(results, r => r.Sql.Contains("pg_replication_slots", StringComparison.Ordinal));
        Assert.Single(results, r => r.Sql.Contains("pg_stat_replication", StringComparison.Ordinal));
        Assert.Single(results, r => r.Sql.Contains("pg_prepared_xacts", StringComparison.Ordinal));

        // The dead rows of a delete show in n_dead_tup while the idle transaction holds them (statistics arrive asynchronously).
        await using (var churn = dataSource.CreateCommand("""
            INSERT INTO outbox.lanes (lane) SELECT generate_series(1000, 1199);
            DELETE FROM outbox.lanes WHERE lane >= 1000;
            """))
        {
            await churn.ExecuteNonQueryAsync();
        }

        var deadRowsQuery = results.Single(r => r.Sql.Contains("pg_stat_user_tables", StringComparison.Ordinal)).Sql;
        await Eventually.TrueAsync(
            async () => (await QueryAsync(dataSource, deadRowsQuery)).Any(r => (string?)r["relname"] == "lanes" && Convert.ToInt64(r["n_dead_tup"], System.Globalization.CultureInfo.InvariantCulture) >= 200),
            "the dead-rows query shows the deleted lanes rows");
        await idleTransaction.RollbackAsync();
    }

    private static IEnumerable<string> Statements(string block) =>
        Regex.Replace(block, "--[^\n]*", "").Split(';').Select(s => s.Trim()).Where(s => s.Length > 0);

    private static async Task<List<Dictionary<string, object?>>> QueryAsync(NpgsqlDataSource dataSource, string sql)
    {
        var rows = new List<Dictionary<string, object?>>();
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    private static async Task<List<string?>> ReloptionsAsync(NpgsqlDataSource dataSource, string table, params string[] names)
    {
        await using var command = dataSource.CreateCommand("SELECT reloptions FROM pg_class WHERE oid = to_regclass($1)");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "outbox." + table });
        var options = ((string[]?)await command.ExecuteScalarAsync() ?? []).Select(o => o.Split('=', 2)).ToDictionary(o => o[0], o => o[1], StringComparer.Ordinal);
        return names.Select(n => options.GetValueOrDefault(n)).ToList();
    }

    [GeneratedRegex(@"^```sql\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex SqlBlock();
}
