using System.Text.Json;
using Npgsql;
using Outbox.Cli;
using Outbox.PostgreSql;
using Outbox.Testing;

namespace Outbox.Cli.Tests;

/// <summary><c>dotnet outbox</c> against a real PostgreSQL database with the outbox schema.</summary>
public sealed class CliTests : IAsyncLifetime
{
    private static readonly Lazy<Task<PostgresServer>> Server = new(() => PostgresServer.StartAsync());
    private string _connectionString = "";
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await (await Server.Value).CreateDatabaseAsync("cli");
        _dataSource = NpgsqlDataSource.Create(_connectionString);
        await OutboxSchema.EnsureCreatedAsync(_dataSource, new OutboxOptions());
    }

    public async Task DisposeAsync() => await _dataSource.DisposeAsync();

    [Fact]
    public async Task Schema_prints_the_DDL_for_the_given_names()
    {
        var (exit, output, _) = await RunAsync("schema", "--schema", "ops", "--table", "events", "--lanes", "8");
        Assert.Equal(0, exit);
        Assert.Contains("CREATE TABLE IF NOT EXISTS \"ops\".\"events\"", output, StringComparison.Ordinal);
        Assert.Contains("generate_series(0, 7)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Schema_with_commit_order_from_the_wal_leaves_out_the_commit_trigger_only()
    {
        var (defaultExit, withTrigger, _) = await RunAsync("schema", "--table", "events");
        var (exit, withoutTrigger, _) = await RunAsync("schema", "--table", "events", "--commit-order", "WriteAheadLog");
        Assert.Equal(0, defaultExit);
        Assert.Equal(0, exit);
        Assert.Contains("CREATE CONSTRAINT TRIGGER \"events_commit_seq\"", withTrigger, StringComparison.Ordinal);
        Assert.DoesNotContain("CREATE CONSTRAINT TRIGGER", withoutTrigger, StringComparison.Ordinal);
        Assert.DoesNotContain("pg_notify", withoutTrigger, StringComparison.Ordinal);
        foreach (var table in new[] { "\"outbox\".\"events\" (", "\"outbox\".\"events_cdc_slots\"", "\"outbox\".\"events_cdc_backlog\"", "\"outbox\".\"dead_letters\"" })
        {
            Assert.Contains(table, withoutTrigger, StringComparison.Ordinal);
            Assert.Contains(table, withTrigger, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Debezium_config_prints_the_connector_for_the_given_names()
    {
        var (exit, output, _) = await RunAsync(
            "debezium-config", "--connection", "Host=db.internal;Port=5433;Database=movies;Username=app", "--schema", "ops", "--table", "events",
            "--connector-name", "movies-outbox", "--slot", "movies_slot", "--publication", "movies_pub", "--topic-prefix", "mw",
            "--database-hostname", "pg.connect", "--database-port", "6432");
        Assert.Equal(0, exit);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.Equal("movies-outbox", json.RootElement.GetProperty("name").GetString());
        var config = json.RootElement.GetProperty("config");
        Assert.Equal("pg.connect", config.GetProperty("database.hostname").GetString());
        Assert.Equal("6432", config.GetProperty("database.port").GetString());
        Assert.Equal("movies", config.GetProperty("database.dbname").GetString());
        Assert.Equal("app", config.GetProperty("database.user").GetString());
        Assert.Equal("movies_slot", config.GetProperty("slot.name").GetString());
        Assert.Equal("movies_pub", config.GetProperty("publication.name").GetString());
        Assert.Equal("mw", config.GetProperty("topic.prefix").GetString());
        Assert.Equal("ops\\.events", config.GetProperty("table.include.list").GetString());
    }

    [Fact]
    public async Task Debezium_config_refuses_a_hostile_slot_name()
    {
        var (exit, _, error) = await RunAsync("debezium-config", "--connection", "Host=db;Database=movies", "--slot", "x\"; DROP");
        Assert.Equal(1, exit);
        Assert.Contains("Slot", error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Hostile_names_are_refused()
    {
        var (exit, _, error) = await RunAsync("status", "--connection", _connectionString, "--schema", "x\"; DROP TABLE y; --");
        Assert.Equal(1, exit);
        Assert.Contains("OutboxOptions.Schema", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_connection_is_a_usage_error_that_says_how_to_fix_it()
    {
        var (exit, _, error) = await RunAsync("status");
        Assert.Equal(2, exit);
        Assert.Contains(OutboxCli.ConnectionVariable, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_database_is_a_clear_failure()
    {
        var (exit, _, error) = await RunAsync("status", "--connection", "Host=127.0.0.1;Port=1;Timeout=2;Database=none");
        Assert.Equal(1, exit);
        Assert.StartsWith("error:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_shows_pending_rows_leases_dead_letters_and_inboxes()
    {
        await ExecuteAsync("""
            INSERT INTO outbox.messages (id, aggregatetype, aggregateid, type, payload, lane, created_at, attempts)
            VALUES (gen_random_uuid(), 'movie', 'u1', 'MovieStarted', '{}', 3, now() - interval '5 seconds', 0),
                   (gen_random_uuid(), 'movie', 'u2', 'MovieStarted', '{}', 3, now(), 0);
            UPDATE outbox.lanes SET owner = 'relay-a', epoch = 7, lease_expires_at = now() + interval '1 minute' WHERE lane < 10;
            INSERT INTO outbox.inbox (consumer_group, message_id, topic, partition, "offset", handled_at) VALUES ('g1', 'm1', 't', 0, 0, now());
            """);
        await InsertDeadLetterAsync(Guid.NewGuid(), 1);

        var (exit, output, _) = await RunAsync("status", "--connection", _connectionString);
        Assert.Equal(0, exit);
        Assert.Contains("pending: 2", output, StringComparison.Ordinal);
        Assert.Contains("dead letters: 1", output, StringComparison.Ordinal);
        Assert.Contains("relay-a", output, StringComparison.Ordinal);
        Assert.Contains("lanes with pending rows: 1 of 64", output, StringComparison.Ordinal);
        Assert.Contains("g1", output, StringComparison.Ordinal);

        var (jsonExit, json, _) = await RunAsync("status", "--json", "--connection", _connectionString);
        Assert.Equal(0, jsonExit);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(2, doc.RootElement.GetProperty("pending").GetInt64());
        Assert.Equal(1, doc.RootElement.GetProperty("deadLetters").GetInt64());
        Assert.True(doc.RootElement.GetProperty("oldestPendingAge").GetString() is { Length: > 0 });
    }

    [Fact]
    public async Task Dead_letters_list_show_replay_in_order_and_purge_with_confirmation()
    {
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        var third = Guid.NewGuid();
        await InsertDeadLetterAsync(second, 20);
        await InsertDeadLetterAsync(first, 10);
        await InsertDeadLetterAsync(third, 30);

        var (listExit, list, _) = await RunAsync("dead-letters", "list", "--connection", _connectionString);
        Assert.Equal(0, listExit);
        Assert.Contains("3 dead letter(s) shown.", list, StringComparison.Ordinal);

        var (showExit, show, _) = await RunAsync("dead-letters", "show", first.ToString(), "--connection", _connectionString);
        Assert.Equal(0, showExit);
        Assert.Contains("broker said no", show, StringComparison.Ordinal);

        var (unconfirmed, _, unconfirmedError) = await RunAsync("dead-letters", "replay", "--all", "--connection", _connectionString);
        Assert.Equal(2, unconfirmed);
        Assert.Contains("--yes", unconfirmedError, StringComparison.Ordinal);

        var (replayExit, replay, _) = await RunAsync("dead-letters", "replay", "--all", "--yes", "--connection", _connectionString);
        Assert.Equal(0, replayExit);
        Assert.Contains("replay: 3 dead letter(s).", replay, StringComparison.Ordinal);

        // Back in the outbox in their original order, with fresh commit sequences and attempt counters.
        var ids = new List<Guid>();
        await using (var cmd = _dataSource.CreateCommand("SELECT id, attempts FROM outbox.messages ORDER BY commit_seq"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetGuid(0));
                Assert.Equal(0, reader.GetInt32(1));
            }
        }

        Assert.Equal([first, second, third], ids);
        Assert.Equal(0L, (long)(await ScalarAsync("SELECT count(*) FROM outbox.dead_letters"))!);

        var purgeMe = Guid.NewGuid();
        await InsertDeadLetterAsync(purgeMe, 40);
        var (noYes, _, _) = await RunAsync("dead-letters", "purge", purgeMe.ToString(), "--connection", _connectionString);
        Assert.Equal(2, noYes);
        Assert.Equal(1L, await ScalarAsync("SELECT count(*) FROM outbox.dead_letters"));
        var (purgeExit, purge, _) = await RunAsync("dead-letters", "purge", purgeMe.ToString(), "--yes", "--connection", _connectionString);
        Assert.Equal(0, purgeExit);
        Assert.Contains("purge: 1 dead letter(s).", purge, StringComparison.Ordinal);
        Assert.Equal(0L, (long)(await ScalarAsync("SELECT count(*) FROM outbox.dead_letters"))!);

        var (missingExit, _, missingError) = await RunAsync("dead-letters", "show", Guid.NewGuid().ToString(), "--connection", _connectionString);
        Assert.Equal(1, missingExit);
        Assert.Contains("No dead letter", missingError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no-such-command")]
    [InlineData("status", "--no-such-option")]
    [InlineData("dead-letters", "show", "not-a-guid")]
    public async Task Usage_errors_exit_2_and_point_to_help(params string[] args)
    {
        var (exit, _, error) = await RunAsync(args);
        Assert.Equal(2, exit);
        Assert.Contains("--help", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Debezium_config_without_a_connection_names_the_flag_and_the_variable()
    {
        var saved = Environment.GetEnvironmentVariable(OutboxCli.ConnectionVariable);
        Environment.SetEnvironmentVariable(OutboxCli.ConnectionVariable, null);
        try
        {
            var (exit, _, error) = await RunAsync("debezium-config");
            Assert.Equal(2, exit);
            Assert.Contains("--connection", error, StringComparison.Ordinal);
            Assert.Contains(OutboxCli.ConnectionVariable, error, StringComparison.Ordinal);
            Assert.DoesNotContain("DebeziumOptions", error, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(OutboxCli.ConnectionVariable, saved);
        }
    }

    [Fact]
    public async Task Status_against_a_database_without_the_outbox_schema_says_how_to_create_it()
    {
        var empty = await (await Server.Value).CreateDatabaseAsync("cli_empty");
        var (exit, _, error) = await RunAsync("status", "--connection", empty);
        Assert.Equal(1, exit);
        Assert.Contains("no outbox schema here", error, StringComparison.Ordinal);
        Assert.Contains("dotnet outbox schema", error, StringComparison.Ordinal);
        Assert.DoesNotContain("42P01", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_puts_dead_letters_of_the_CDC_relay_back_in_the_order_they_were_dead_lettered()
    {
        // The CDC relay dead-letters rows in stream (commit) order and records no commit sequence; their enqueue times
        // (created_at) can be in the opposite order (a transaction that enqueued first and committed last).
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        var third = Guid.NewGuid();
        await InsertCdcDeadLetterAsync(first, createdSecondsAgo: 1, deadLetteredSecondsAgo: 30);
        await InsertCdcDeadLetterAsync(second, createdSecondsAgo: 2, deadLetteredSecondsAgo: 20);
        await InsertCdcDeadLetterAsync(third, createdSecondsAgo: 3, deadLetteredSecondsAgo: 10);

        var (exit, output, _) = await RunAsync("dead-letters", "replay", "--all", "--yes", "--connection", _connectionString);
        Assert.Equal(0, exit);
        Assert.Contains("replay: 3 dead letter(s).", output, StringComparison.Ordinal);

        var ids = new List<Guid>();
        await using (var cmd = _dataSource.CreateCommand("SELECT id FROM outbox.messages ORDER BY commit_seq"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetGuid(0));
            }
        }

        Assert.Equal([first, second, third], ids);
    }

    [Fact]
    public async Task Drop_replication_removes_the_slot_and_the_publication_and_asks_for_confirmation()
    {
        var slot = "cli_drop_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        await ExecuteAsync("CREATE PUBLICATION cli_pub FOR TABLE outbox.messages WITH (publish = 'insert')");

        var (unconfirmed, _, unconfirmedError) = await RunAsync("drop-replication", "--slot", slot, "--publication", "cli_pub", "--connection", _connectionString);
        Assert.Equal(2, unconfirmed);
        Assert.Contains("--yes", unconfirmedError, StringComparison.Ordinal);
        Assert.Equal(1L, (long)(await ScalarAsync($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"))!);

        var (exit, output, _) = await RunAsync("drop-replication", "--slot", slot, "--publication", "cli_pub", "--yes", "--connection", _connectionString);
        Assert.Equal(0, exit);
        Assert.Contains($"Dropped replication slot '{slot}'", output, StringComparison.Ordinal);
        Assert.Contains("Dropped publication 'cli_pub'", output, StringComparison.Ordinal);
        Assert.Equal(0L, (long)(await ScalarAsync($"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"))!);
        Assert.Equal(0L, (long)(await ScalarAsync("SELECT count(*) FROM pg_publication WHERE pubname = 'cli_pub'"))!);

        var (again, againOutput, _) = await RunAsync("drop-replication", "--slot", slot, "--publication", "cli_pub", "--yes", "--connection", _connectionString);
        Assert.Equal(0, again);
        Assert.Contains("No replication slot", againOutput, StringComparison.Ordinal);

        var (invalid, _, invalidError) = await RunAsync("drop-replication", "--slot", "Bad-Name", "--yes", "--connection", _connectionString);
        Assert.Equal(1, invalid);
        Assert.Contains("--slot", invalidError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parked_list_show_replay_in_order_and_discard_with_confirmation()
    {
        var k1 = new[] { Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7() };
        var k2 = new[] { Guid.CreateVersion7(), Guid.CreateVersion7() };
        for (var i = 0; i < k1.Length; i++)
        {
            await InsertMessageAsync(k1[i], "k1", i);
        }

        for (var i = 0; i < k2.Length; i++)
        {
            await InsertMessageAsync(k2[i], "k2", i);
        }

        await ParkAsync("k1", k1[0]);
        await ParkAsync("k2", k2[0]);

        var (listExit, list, _) = await RunAsync("parked", "list", "--connection", _connectionString);
        Assert.Equal(0, listExit);
        Assert.Contains("k1", list, StringComparison.Ordinal);
        Assert.Contains("parked", list, StringComparison.Ordinal);
        Assert.Contains("Local_MsgSizeTooLarge", list, StringComparison.Ordinal);
        Assert.Contains("2 key(s) shown.", list, StringComparison.Ordinal);

        var (showExit, show, _) = await RunAsync("parked", "show", "movie", "k1", "--connection", _connectionString);
        Assert.Equal(0, showExit);
        Assert.Contains(k1[0].ToString(), show, StringComparison.Ordinal);
        Assert.Contains("\"waitingEvents\": 3", show, StringComparison.Ordinal);

        var (replayExit, replay, _) = await RunAsync("parked", "replay", "movie", "k1", "--connection", _connectionString);
        Assert.Equal(0, replayExit);
        Assert.Contains("movie/k1", replay, StringComparison.Ordinal);

        // The key's events are in the table again, in their order, with fresh commit order numbers and attempts.
        var order = new List<Guid>();
        await using (var cmd = _dataSource.CreateCommand("SELECT id FROM outbox.messages WHERE aggregateid = 'k1' ORDER BY commit_seq"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                order.Add(reader.GetGuid(0));
            }
        }

        Assert.Equal(k1, order);
        var (again, _, againError) = await RunAsync("parked", "replay", "movie", "k1", "--connection", _connectionString);
        Assert.Equal(1, again);
        Assert.Contains("not held", againError, StringComparison.Ordinal);

        var (unconfirmed, _, unconfirmedError) = await RunAsync("parked", "discard", "movie", "k2", "--connection", _connectionString);
        Assert.Equal(2, unconfirmed);
        Assert.Contains("--yes", unconfirmedError, StringComparison.Ordinal);
        var (discardExit, _, _) = await RunAsync("parked", "discard", "movie", "k2", "--yes", "--connection", _connectionString);
        Assert.Equal(0, discardExit);
        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM outbox.dead_letters WHERE id = '{k2[0]}' AND last_error LIKE 'Discarded by an operator%'"));
        Assert.Equal(1L, await ScalarAsync("SELECT count(*) FROM outbox.messages WHERE aggregateid = 'k2'"));

        var (emptyExit, empty, _) = await RunAsync("parked", "list", "--retrying", "--json", "--connection", _connectionString);
        Assert.Equal(0, emptyExit);
        Assert.Equal("[]", empty.Trim());
    }

    [Fact]
    public async Task The_CLI_reads_the_applications_settings_file_custom_names_topic_template_and_connection_string()
    {
        var options = new OutboxOptions
        {
            Schema = "app",
            MessagesTable = "events",
            LanesTable = "event_lanes",
            DeadLettersTable = "event_dead",
            InboxTable = "handled",
            InboxOffsetsTable = "handled_offsets",
            TopicTemplate = "movies.{aggregatetype}.v1",
        };
        await OutboxSchema.EnsureCreatedAsync(_dataSource, options);
        await ExecuteAsync("""
            INSERT INTO app.event_dead (id, aggregatetype, aggregateid, type, payload, lane, created_at, attempts, last_error, dead_lettered_at)
            VALUES ('0193d5f2-0000-7000-8000-000000000001', 'movie', 'u1', 'MovieStarted', '{}', 0, now(), 1, 'x', now())
            """);
        var file = Path.Combine(Path.GetTempPath(), "outbox-cli-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(file, System.Text.Json.JsonSerializer.Serialize(new
        {
            ConnectionStrings = new { Movies = _connectionString + ";Password=s3cret" },
            Outbox = new
            {
                options.Schema, options.MessagesTable, options.LanesTable, options.DeadLettersTable, options.InboxTable, options.InboxOffsetsTable, options.TopicTemplate,
            },
        }));
        try
        {
            var (statusExit, status, statusError) = await RunAsync("status", "--settings", file, "--connection-name", "Movies");
            Assert.True(statusExit == 0, statusError);
            Assert.Contains("dead letters: 1", status, StringComparison.Ordinal);

            var (listExit, list, _) = await RunAsync("dead-letters", "list", "--settings", file, "--connection-name", "Movies");
            Assert.Equal(0, listExit);
            Assert.Contains("0193d5f2-0000-7000-8000-000000000001", list, StringComparison.Ordinal);

            // The connector routes to the application's topics, and the password is a config provider reference.
            var (debeziumExit, debezium, _) = await RunAsync(
                "debezium-config", "--settings", file, "--connection-name", "Movies", "--database-password", "${file:/opt/secrets/outbox.properties:password}");
            Assert.Equal(0, debeziumExit);
            using var json = System.Text.Json.JsonDocument.Parse(debezium);
            var config = json.RootElement.GetProperty("config");
            Assert.Equal("app\\.events", config.GetProperty("table.include.list").GetString());
            Assert.Equal("movies.${routedByValue}.v1", config.GetProperty("transforms.outbox.route.topic.replacement").GetString());
            Assert.Equal("${file:/opt/secrets/outbox.properties:password}", config.GetProperty("database.password").GetString());
            Assert.DoesNotContain("s3cret", debezium, StringComparison.Ordinal);

            // Options on the command line win over the file.
            var (schemaExit, schema, _) = await RunAsync("schema", "--settings", file, "--lanes-table", "other_lanes");
            Assert.Equal(0, schemaExit);
            Assert.Contains("app.other_lanes", schema.Replace("\"", "", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Contains("app.handled_offsets", schema.Replace("\"", "", StringComparison.Ordinal), StringComparison.Ordinal);

            var (missingExit, _, missingError) = await RunAsync("status", "--settings", file, "--connection-name", "Nope");
            Assert.Equal(1, missingExit);
            Assert.Contains("ConnectionStrings:Nope", missingError, StringComparison.Ordinal);
            var (noFileExit, _, noFileError) = await RunAsync("schema", "--settings", file + ".missing");
            Assert.Equal(1, noFileExit);
            Assert.Contains("does not exist", noFileError, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Parked_inbox_list_show_replay_and_discard_address_a_key_of_a_consumer_group()
    {
        await ExecuteAsync("""
            INSERT INTO outbox.inbox_parked (consumer_group, topic, partition, "offset", record_key, message_id, type, value, header_names, header_values,
                                             record_timestamp, state, reason, error_type, error, attempts, parked_at)
            VALUES ('billing', 'outbox.event.movie', 2, 40, 'user-7'::bytea, 'm40', 'MovieStarted', '{}'::bytea, '{}', '{}', now(), 'parked', 'handler-failed', 'InvalidOperationException', 'boom', 5, now()),
                   ('billing', 'outbox.event.movie', 2, 41, 'user-7'::bytea, 'm41', 'MovieStarted', '{}'::bytea, '{}', '{}', now(), 'held', 'held', NULL, NULL, 0, now()),
                   ('billing', 'outbox.event.movie', 3, 9, NULL, 'm9', 'MovieStarted', '{}'::bytea, '{}', '{}', now(), 'parked', 'handler-failed', 'InvalidOperationException', 'boom', 5, now())
            """);

        var (listExit, list, _) = await RunAsync("parked", "inbox", "list", "--group", "billing", "--connection", _connectionString);
        Assert.Equal(0, listExit);
        Assert.Contains("user-7", list, StringComparison.Ordinal);
        Assert.Contains("(no key)", list, StringComparison.Ordinal);
        Assert.Contains("2 key(s) shown.", list, StringComparison.Ordinal);

        var (showExit, show, _) = await RunAsync("parked", "inbox", "show", "--group", "billing", "--topic", "outbox.event.movie", "--partition", "2", "--key", "user-7", "--connection", _connectionString);
        Assert.Equal(0, showExit);
        Assert.Contains("m40", show, StringComparison.Ordinal);
        Assert.Contains("m41", show, StringComparison.Ordinal);

        var (usage, _, usageError) = await RunAsync("parked", "inbox", "replay", "--group", "billing", "--topic", "outbox.event.movie", "--partition", "2", "--connection", _connectionString);
        Assert.Equal(2, usage);
        Assert.Contains("--no-key", usageError, StringComparison.Ordinal);

        var (replayExit, replay, _) = await RunAsync("parked", "inbox", "replay", "--group", "billing", "--topic", "outbox.event.movie", "--partition", "2", "--key", "user-7", "--connection", _connectionString);
        Assert.Equal(0, replayExit);
        Assert.Contains("Asked for a replay", replay, StringComparison.Ordinal);
        Assert.Equal(2L, await ScalarAsync("SELECT count(*) FROM outbox.inbox_parked WHERE partition = 2 AND replay_requested_at IS NOT NULL"));

        var (noYes, _, _) = await RunAsync("parked", "inbox", "discard", "--group", "billing", "--topic", "outbox.event.movie", "--partition", "3", "--no-key", "--connection", _connectionString);
        Assert.Equal(2, noYes);
        var (discardExit, _, _) = await RunAsync("parked", "inbox", "discard", "--group", "billing", "--topic", "outbox.event.movie", "--partition", "3", "--no-key", "--yes", "--connection", _connectionString);
        Assert.Equal(0, discardExit);
        var (missingExit, _, missingError) = await RunAsync("parked", "inbox", "replay", "--group", "billing", "--topic", "outbox.event.movie", "--partition", "5", "--key", "nobody", "--connection", _connectionString);
        Assert.Equal(1, missingExit);
        Assert.Contains("not parked", missingError, StringComparison.Ordinal);
    }

    private async Task InsertMessageAsync(Guid id, string key, int seq)
    {
        await using var cmd = _dataSource.CreateCommand("""
            INSERT INTO outbox.messages (id, aggregatetype, aggregateid, type, payload, lane, created_at, attempts)
            VALUES ($1, 'movie', $2, 'MovieStarted', jsonb_build_object('n', $3), 3, now(), 0)
            """);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = seq });
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task ParkAsync(string key, Guid head)
    {
        await using var cmd = _dataSource.CreateCommand("""
            INSERT INTO outbox.messages_parked (aggregatetype, aggregateid, lane, message_id, attempts, last_error, parked_at, updated_at)
            VALUES ('movie', $1, 3, $2, 1, 'MsgSizeTooLarge: Local_MsgSizeTooLarge', now(), now())
            """);
        cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = head });
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task InsertCdcDeadLetterAsync(Guid id, int createdSecondsAgo, int deadLetteredSecondsAgo)
    {
        await using var cmd = _dataSource.CreateCommand("""
            INSERT INTO outbox.dead_letters (id, aggregatetype, aggregateid, type, payload, lane, commit_seq, created_at, attempts, last_error, dead_lettered_at)
            VALUES ($1, 'movie', 'u1', 'MovieStarted', '{"n": 1}', 3, NULL, now() - make_interval(secs => $2), 10, 'Local_MsgTimedOut', now() - make_interval(secs => $3))
            """);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        cmd.Parameters.Add(new NpgsqlParameter<double> { TypedValue = createdSecondsAgo });
        cmd.Parameters.Add(new NpgsqlParameter<double> { TypedValue = deadLetteredSecondsAgo });
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task InsertDeadLetterAsync(Guid id, long commitSequence)
    {
        await using var cmd = _dataSource.CreateCommand("""
            INSERT INTO outbox.dead_letters (id, aggregatetype, aggregateid, type, payload, lane, commit_seq, created_at, attempts, last_error, dead_lettered_at)
            VALUES ($1, 'movie', 'u1', 'MovieStarted', '{"n": 1}', 3, $2, now(), 5, 'broker said no', now())
            """);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        cmd.Parameters.Add(new NpgsqlParameter<long> { TypedValue = commitSequence });
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var cmd = _dataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var cmd = _dataSource.CreateCommand(sql);
        return await cmd.ExecuteScalarAsync();
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await OutboxCli.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString().Trim());
    }
}
