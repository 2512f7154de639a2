using Npgsql;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>The shared server: queries, logical decoding, databases per test class.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class PostgresServerTests(InfrastructureFixture infrastructure, ITestOutputHelper output)
{
    private readonly PostgresServer _server = infrastructure.Postgres;

    [Fact]
    public async Task Runs_a_query_on_its_own_database()
    {
        output.WriteLine($"{_server.Kind} server at {_server.Host}:{_server.Port}");
        await using var connection = new NpgsqlConnection(_server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_database(), 40 + 2", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.StartsWith("outbox_", reader.GetString(0), StringComparison.Ordinal);
        Assert.Equal(42, reader.GetInt32(1));
        Assert.True(_server.Port > 0);
    }

    [Fact]
    public async Task Has_logical_wal_level()
    {
        Assert.Equal("logical", await ScalarAsync<string>(_server.ConnectionString, "SHOW wal_level"));
    }

    [Fact]
    public async Task CreateDatabaseAsync_creates_a_distinct_database_on_each_call()
    {
        var first = await _server.CreateDatabaseAsync("My-Tests");
        var second = await _server.CreateDatabaseAsync("My-Tests");

        var firstName = await ScalarAsync<string>(first, "SELECT current_database()");
        var secondName = await ScalarAsync<string>(second, "SELECT current_database()");
        Assert.NotEqual(firstName, secondName);
        Assert.StartsWith("my_tests_", firstName, StringComparison.Ordinal);
        Assert.StartsWith("my_tests_", secondName, StringComparison.Ordinal);

        await ExecuteAsync(first, "CREATE TABLE only_here (id int)");
        Assert.Equal(1L, await ScalarAsync<long>(first, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'"));
        Assert.Equal(0L, await ScalarAsync<long>(second, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'"));
    }

    [Fact]
    public async Task Creates_decodes_and_drops_a_pgoutput_logical_slot()
    {
        var database = await _server.CreateDatabaseAsync("slots");
        var slot = "slot_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync(database, "CREATE TABLE events (id bigint PRIMARY KEY, body text)");
        // The publication comes before the slot: a write in between would break decoding.
        await ExecuteAsync(database, "CREATE PUBLICATION events_pub FOR TABLE events");
        await ExecuteAsync(database, $"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        try
        {
            Assert.Equal("pgoutput", await ScalarAsync<string>(database, $"SELECT plugin FROM pg_replication_slots WHERE slot_name = '{slot}'"));

            await ExecuteAsync(database, "INSERT INTO events VALUES (1, 'hello'), (2, 'world')");
            // BEGIN, RELATION, two INSERTs, COMMIT: the slot decodes what was written after it.
            var changes = await ScalarAsync<long>(
                database,
                $"SELECT count(*) FROM pg_logical_slot_peek_binary_changes('{slot}', NULL, NULL, 'proto_version', '1', 'publication_names', 'events_pub')");
            Assert.True(changes >= 4, $"expected at least 4 decoded messages, got {changes}");
        }
        finally
        {
            await ExecuteAsync(database, $"SELECT pg_drop_replication_slot('{slot}')");
        }

        Assert.Equal(0L, await ScalarAsync<long>(database, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"));
    }

    [Fact]
    public async Task Test_databases_have_slot_names_of_their_own_so_two_CDC_tests_do_not_collide()
    {
        var first = await _server.CreateTestDatabaseAsync("cdc");
        var second = await _server.CreateTestDatabaseAsync("cdc");
        Assert.Equal(first.Name, await ScalarAsync<string>(first.ConnectionString, "SELECT current_database()"));
        Assert.Equal(_server.ConnectionString, _server.Database.ConnectionString);
        Assert.Equal(_server.Database.Name, await ScalarAsync<string>(_server.ConnectionString, "SELECT current_database()"));

        // What a CDC relay does on start, in both databases at once: a publication, then a slot (cluster-wide).
        var created = new List<TestDatabase>();
        try
        {
            foreach (var database in new[] { first, second })
            {
                Assert.Matches(@"\A[a-z0-9_]{1,63}\z", database.SlotName);
                Assert.Matches(@"\A[a-z_][a-z0-9_]{0,62}\z", database.PublicationName);
                await ExecuteAsync(database.ConnectionString, "CREATE TABLE events (id bigint PRIMARY KEY)");
                await ExecuteAsync(database.ConnectionString, $"CREATE PUBLICATION {database.PublicationName} FOR TABLE events");
                await ExecuteAsync(database.ConnectionString, $"SELECT pg_create_logical_replication_slot('{database.SlotName}', 'pgoutput')");
                created.Add(database);
            }

            Assert.NotEqual(first.SlotName, second.SlotName);
            foreach (var database in created)
            {
                Assert.Equal(database.Name, await ScalarAsync<string>(
                    database.ConnectionString, $"SELECT database FROM pg_replication_slots WHERE slot_name = '{database.SlotName}'"));
            }
        }
        finally
        {
            foreach (var database in created)
            {
                await ExecuteAsync(database.ConnectionString, $"SELECT pg_drop_replication_slot('{database.SlotName}')");
            }
        }
    }

    internal static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    internal static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
