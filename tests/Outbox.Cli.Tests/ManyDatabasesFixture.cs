using Npgsql;
using Outbox.PostgreSql;
using Outbox.Testing;

namespace Outbox.Cli.Tests;

/// <summary>
/// One PostgreSQL server with three outbox databases (the tests only read them): <c>a</c> has 2 pending rows and 10 lanes
/// leased by relay-1; <c>b</c> has 3 pending rows, a parked key, a dead letter, and 6 lanes leased by relay-1 and relay-2;
/// <c>c</c> is empty. <see cref="NoSchema"/> is a database without the outbox tables.
/// </summary>
public sealed class ManyDatabasesFixture : IAsyncLifetime
{
    private PostgresServer _server = null!;

    public string A { get; private set; } = "";

    public string B { get; private set; } = "";

    public string C { get; private set; } = "";

    public string NoSchema { get; private set; } = "";

    /// <summary>Gets a connection string to a database that does not exist on the server.</summary>
    public string Missing { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        A = await CreateOutboxDatabaseAsync("cli_many_a", """
            INSERT INTO outbox.messages (id, aggregatetype, aggregateid, type, payload, lane, created_at, attempts)
            VALUES (gen_random_uuid(), 'movie', 'a1', 'MovieStarted', '{}', 3, now() - interval '5 seconds', 0),
                   (gen_random_uuid(), 'movie', 'a2', 'MovieStarted', '{}', 7, now(), 0);
            UPDATE outbox.lanes SET owner = 'relay-1', epoch = 1, lease_expires_at = now() + interval '1 minute' WHERE lane < 10;
            """);
        B = await CreateOutboxDatabaseAsync("cli_many_b", """
            INSERT INTO outbox.messages (id, aggregatetype, aggregateid, type, payload, lane, created_at, attempts)
            VALUES (gen_random_uuid(), 'movie', 'b1', 'MovieStarted', '{}', 1, now() - interval '3 seconds', 0),
                   (gen_random_uuid(), 'movie', 'b1', 'MovieStarted', '{}', 1, now(), 0),
                   (gen_random_uuid(), 'movie', 'b2', 'MovieStarted', '{}', 2, now(), 0);
            INSERT INTO outbox.messages_parked (aggregatetype, aggregateid, lane, message_id, attempts, last_error, parked_at, updated_at)
            VALUES ('movie', 'b9', 4, gen_random_uuid(), 1, 'MsgSizeTooLarge: Local_MsgSizeTooLarge', now(), now());
            INSERT INTO outbox.dead_letters (id, aggregatetype, aggregateid, type, payload, lane, commit_seq, created_at, attempts, last_error, dead_lettered_at)
            VALUES (gen_random_uuid(), 'movie', 'b3', 'MovieStarted', '{"n": 1}', 3, 1, now(), 5, 'broker said no', now());
            UPDATE outbox.lanes SET owner = 'relay-1', epoch = 1, lease_expires_at = now() + interval '1 minute' WHERE lane < 4;
            UPDATE outbox.lanes SET owner = 'relay-2', epoch = 1, lease_expires_at = now() + interval '1 minute' WHERE lane IN (4, 5);
            """);
        C = await CreateOutboxDatabaseAsync("cli_many_c", null);
        NoSchema = await _server.CreateDatabaseAsync("cli_many_noschema");
        Missing = new NpgsqlConnectionStringBuilder(C) { Database = "cli_many_no_such_database" }.ConnectionString;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>Creates another database with the outbox tables, for a test of its own to change.</summary>
    public async Task<string> CreateOutboxDatabaseAsync(string prefix, string? sql = null, string schema = "outbox")
    {
        var connectionString = await _server.CreateDatabaseAsync(prefix);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await OutboxSchema.EnsureCreatedAsync(dataSource, new OutboxOptions { Schema = schema });
        if (sql is not null)
        {
            await using var command = dataSource.CreateCommand(sql);
            await command.ExecuteNonQueryAsync();
        }

        return connectionString;
    }
}
