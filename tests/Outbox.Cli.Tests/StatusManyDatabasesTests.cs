using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;

namespace Outbox.Cli.Tests;

/// <summary><c>dotnet outbox status --database NAME=... --databases-file PATH</c>: a row per database of an outbox that spans many.</summary>
public sealed class StatusManyDatabasesTests(ManyDatabasesFixture databases) : IClassFixture<ManyDatabasesFixture>
{
    [Fact]
    public async Task Status_with_databases_lists_each_database_sorted_by_name_and_a_total()
    {
        // Given out of order: the rows come sorted by name.
        var (exit, output, error) = await RunAsync("status", "--database", $"c={databases.C}", "--database", $"a={databases.A}", "--database", $"b={databases.B}");

        Assert.True(exit == 0, error);
        Assert.Equal(["database", "pending", "oldest", "parked keys", "dead letters", "lanes leased", "error"], Cells(output.Split('\n')[0]));
        Assert.Equal(["a", "b", "c", "total"], Rows(output).Select(r => r[0]));

        var a = Row(output, "a");
        Assert.Equal("2", a[1]);
        Assert.EndsWith(" s", a[2], StringComparison.Ordinal);
        Assert.Equal(["0", "0", "10 (1 owner)"], a[3..6]);

        var b = Row(output, "b");
        Assert.Equal("3", b[1]);
        Assert.Equal(["1", "1", "6 (2 owners)"], b[3..6]);

        Assert.Equal(["c", "0", "-", "0", "0", "0"], Row(output, "c"));

        var total = Row(output, "total");
        Assert.Equal("5", total[1]);
        Assert.Equal(a[2], total[2]);
        Assert.Equal(["1", "1", "16 (2 owners)"], total[3..6]);
        Assert.Equal(6, total.Length);
    }

    [Fact]
    public async Task Status_with_a_databases_file_ignores_comments_and_blank_lines()
    {
        var file = Path.Combine(Path.GetTempPath(), "outbox-cli-databases-" + Guid.NewGuid().ToString("N") + ".txt");
        await File.WriteAllLinesAsync(file, ["# tenants of the movies outbox", "", $"b={databases.B}", "   ", $"  a = {databases.A}", $"c={databases.C}"]);
        try
        {
            var (exit, output, error) = await RunAsync("status", "--databases-file", file);
            Assert.True(exit == 0, error);
            Assert.Equal(["a", "b", "c", "total"], Rows(output).Select(r => r[0]));
            Assert.Equal("2", Row(output, "a")[1]);
            Assert.Equal("3", Row(output, "b")[1]);
            Assert.Equal("0", Row(output, "c")[1]);
            Assert.Equal("5", Row(output, "total")[1]);

            // --database and --databases-file add up.
            var (bothExit, both, bothError) = await RunAsync("status", "--databases-file", file, "--database", $"d={databases.C}");
            Assert.True(bothExit == 0, bothError);
            Assert.Equal(["a", "b", "c", "d", "total"], Rows(both).Select(r => r[0]));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_database_that_cannot_be_read_shows_its_error_in_its_row_the_others_are_listed_and_the_exit_code_is_1()
    {
        var (exit, output, error) = await RunAsync(
            "status", "--database", $"a={databases.A}", "--database", $"gone={databases.Missing}", "--database", $"bare={databases.NoSchema}",
            "--database", "down=Host=127.0.0.1;Port=1;Timeout=2;Database=none", "--database", $"b={databases.B}");

        Assert.Equal(1, exit);
        Assert.Equal(["a", "b", "bare", "down", "gone", "total"], Rows(output).Select(r => r[0]));
        Assert.Contains("Failed to connect to 127.0.0.1:1", Row(output, "down")[6], StringComparison.Ordinal);
        Assert.Equal("2", Row(output, "a")[1]);
        Assert.Equal("3", Row(output, "b")[1]);

        var gone = Row(output, "gone");
        Assert.Equal(["-", "-", "-", "-", "-"], gone[1..6]);
        Assert.Contains("cli_many_no_such_database", gone[6], StringComparison.Ordinal);
        Assert.Contains("does not exist", gone[6], StringComparison.Ordinal);
        Assert.Contains("no outbox schema here", Row(output, "bare")[6], StringComparison.Ordinal);

        // The total counts the databases read, and says which were not.
        var total = Row(output, "total");
        Assert.Equal("5", total[1]);
        Assert.Equal("3 of 5 database(s) not read: not counted", total[6]);
        Assert.Contains("3 of 5 database(s) could not be read: bare, down, gone", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_json_has_one_entry_per_database_with_the_single_database_status_object_or_the_error()
    {
        var (exit, output, _) = await RunAsync(
            "status", "--json", "--database", $"b={databases.B}", "--database", $"a={databases.A}", "--database", $"c={databases.C}", "--database", $"gone={databases.Missing}");
        Assert.Equal(1, exit);

        using var json = JsonDocument.Parse(output);
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(["a", "b", "c", "gone"], entries.Select(e => e.GetProperty("database").GetString()));

        var b = entries[1];
        Assert.Equal(JsonValueKind.Null, b.GetProperty("error").ValueKind);
        Assert.Equal(3, b.GetProperty("status").GetProperty("pending").GetInt64());
        Assert.Equal(1, b.GetProperty("status").GetProperty("deadLetters").GetInt64());
        Assert.Equal(1, b.GetProperty("status").GetProperty("parkedKeys").GetInt64());
        Assert.Equal(64, b.GetProperty("status").GetProperty("lanes").GetArrayLength());

        // The same object the single-database status prints.
        var (singleExit, single, _) = await RunAsync("status", "--json", "--connection", databases.A);
        Assert.Equal(0, singleExit);
        using var singleJson = JsonDocument.Parse(single);
        Assert.Equal(
            singleJson.RootElement.EnumerateObject().Select(p => p.Name),
            entries[0].GetProperty("status").EnumerateObject().Select(p => p.Name));
        Assert.Equal(2, entries[0].GetProperty("status").GetProperty("pending").GetInt64());

        Assert.Equal(JsonValueKind.Null, entries[3].GetProperty("status").ValueKind);
        Assert.Contains("does not exist", entries[3].GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_capped_backlog_shows_as_at_least_in_its_row_and_in_the_total()
    {
        var large = await databases.CreateOutboxDatabaseAsync("cli_many_large", """
            INSERT INTO outbox.messages (id, aggregatetype, aggregateid, type, payload, lane, created_at, attempts)
            SELECT gen_random_uuid(), 'movie', 'l' || n, 'MovieStarted', '{}', 0, now(), 0 FROM generate_series(1, 10002) AS n
            """);

        var (exit, output, error) = await RunAsync("status", "--database", $"large={large}", "--database", $"a={databases.A}");

        Assert.True(exit == 0, error);
        Assert.Equal("at least 10001", Row(output, "large")[1]);
        Assert.Equal("2", Row(output, "a")[1]);
        Assert.Equal("at least 10003", Row(output, "total")[1]);
    }

    [Fact]
    public async Task The_outbox_options_apply_to_every_database()
    {
        var ops = await databases.CreateOutboxDatabaseAsync("cli_many_ops", schema: "ops");

        var (exit, output, error) = await RunAsync("status", "--schema", "ops", "--database", $"x={ops}", "--database", $"y={ops}");
        Assert.True(exit == 0, error);
        Assert.Equal(["0", "-", "0", "0", "0"], Row(output, "x")[1..]);
        Assert.Equal(["0", "-", "0", "0", "0"], Row(output, "y")[1..]);

        var (defaultExit, defaultOutput, _) = await RunAsync("status", "--database", $"x={ops}");
        Assert.Equal(1, defaultExit);
        Assert.Contains("no outbox schema here", Row(defaultOutput, "x")[6], StringComparison.Ordinal);

        var (invalidExit, _, invalidError) = await RunAsync("status", "--schema", "x\"; DROP TABLE y; --", "--database", $"x={ops}");
        Assert.Equal(1, invalidExit);
        Assert.Contains("OutboxOptions.Schema", invalidError, StringComparison.Ordinal);

        // The application's settings file too.
        var settings = Path.Combine(Path.GetTempPath(), "outbox-cli-settings-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(settings, """{ "Outbox": { "Schema": "ops" } }""");
        try
        {
            var (settingsExit, settingsOutput, settingsError) = await RunAsync("status", "--settings", settings, "--database", $"x={ops}");
            Assert.True(settingsExit == 0, settingsError);
            Assert.Equal(["0", "-", "0", "0", "0"], Row(settingsOutput, "x")[1..]);
        }
        finally
        {
            File.Delete(settings);
        }
    }

    [Fact]
    public async Task At_most_4_databases_are_read_at_a_time()
    {
        // Five databases whose lanes table is locked: a status read blocks on it until the lock goes.
        var names = new List<string>();
        var args = new List<string> { "status" };
        var locks = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var connectionString = await databases.CreateOutboxDatabaseAsync("cli_many_locked");
                names.Add(new NpgsqlConnectionStringBuilder(connectionString).Database!);
                args.AddRange(["--database", $"t{i}={connectionString}"]);
                var holder = new NpgsqlConnection(connectionString);
                locks.Add(holder);
                await holder.OpenAsync();
                await using var lockCommand = new NpgsqlCommand("BEGIN; LOCK TABLE outbox.lanes IN ACCESS EXCLUSIVE MODE", holder);
                await lockCommand.ExecuteNonQueryAsync();
            }

            var run = RunAsync([.. args]);
            await Eventually.TrueAsync(async () => (await WaitingAsync()).Count >= 4, "four databases are being read", TimeSpan.FromSeconds(30));

            // The fifth is not read while the four wait (a read that never started cannot show up later than this).
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var waiting = await WaitingAsync();
            Assert.Equal(4, waiting.Count);
            Assert.False(run.IsCompleted);

            // Once one of them is read, the fifth is.
            var notStarted = names.Except(waiting).Single();
            var first = waiting[0];
            await locks[names.IndexOf(first)].DisposeAsync();
            await Eventually.TrueAsync(async () => (await WaitingAsync()).Contains(notStarted), "the fifth database is being read", TimeSpan.FromSeconds(30));

            foreach (var holder in locks)
            {
                await holder.DisposeAsync();
            }

            var (exit, output, error) = await run;
            Assert.True(exit == 0, error);
            Assert.Equal(["t0", "t1", "t2", "t3", "t4", "total"], Rows(output).Select(r => r[0]));
        }
        finally
        {
            foreach (var holder in locks)
            {
                await holder.DisposeAsync();
            }
        }

        // The databases whose status read waits on the lock.
        async Task<List<string>> WaitingAsync()
        {
            await using var monitor = new NpgsqlConnection(databases.A);
            await monitor.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT datname FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = ANY($1) ORDER BY datname", monitor);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. names] });
            var result = new List<string>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                result.Add(reader.GetString(0));
            }

            return result;
        }
    }

    [Fact]
    public async Task Each_database_is_read_with_the_timeouts_of_its_own_connection_string()
    {
        var slow = await databases.CreateOutboxDatabaseAsync("cli_many_slow");
        await using var holder = new NpgsqlConnection(slow);
        await holder.OpenAsync();
        await using (var lockCommand = new NpgsqlCommand("BEGIN; LOCK TABLE outbox.lanes IN ACCESS EXCLUSIVE MODE", holder))
        {
            await lockCommand.ExecuteNonQueryAsync();
        }

        var (exit, output, _) = await RunAsync(
            "status", "--database", $"a={databases.A}", "--database", $"slow={new NpgsqlConnectionStringBuilder(slow) { CommandTimeout = 1 }}");

        Assert.Equal(1, exit);
        Assert.Equal("2", Row(output, "a")[1]);
        Assert.Contains("Timeout", Row(output, "slow")[6], StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("'noequals' is not NAME=CONNECTION_STRING", "status", "--database", "noequals")]
    [InlineData("The outbox database name 'has space' is invalid", "status", "--database", "has space=Host=x")]
    [InlineData("An outbox database needs a name", "status", "--database", "=Host=x")]
    [InlineData("The connection string of outbox database 'a' is required", "status", "--database", "a=")]
    [InlineData("The database 'a' is given twice", "status", "--database", "a=Host=x", "--database", "a=Host=y")]
    [InlineData("pass either --connection/--connection-name (one database) or --database/--databases-file", "status", "--connection", "Host=x", "--database", "a=Host=x")]
    [InlineData("pass either --connection/--connection-name (one database) or --database/--databases-file", "status", "--connection-name", "Movies", "--database", "a=Host=x")]
    [InlineData("pass either --connection/--connection-name (one database) or --database/--databases-file", "status", "--connection", "Host=x", "--databases-file", "tenants.txt")]
    public async Task Bad_database_arguments_are_usage_errors_that_name_the_problem(string problem, params string[] args)
    {
        var (exit, output, error) = await RunAsync(args);
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Contains(problem, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_connection_string_is_a_usage_error_that_never_repeats_the_password()
    {
        var (exit, _, error) = await RunAsync("status", "--database", "a=Host=x;Password=s3cret;Bogus=1");
        Assert.Equal(2, exit);
        Assert.Contains("The connection string of outbox database 'a' is not a valid Npgsql connection string", error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_line_of_the_databases_file_is_a_usage_error_naming_the_line()
    {
        var file = Path.Combine(Path.GetTempPath(), "outbox-cli-databases-" + Guid.NewGuid().ToString("N") + ".txt");
        await File.WriteAllLinesAsync(file, ["# tenants", "a=Host=x", "", "b has no separator", "c=Host=x"]);
        try
        {
            var (exit, output, error) = await RunAsync("status", "--databases-file", file);
            Assert.Equal(2, exit);
            Assert.Equal("", output);
            Assert.Contains($"--databases-file '{file}', line 4", error, StringComparison.Ordinal);
            Assert.Contains("is not NAME=CONNECTION_STRING", error, StringComparison.Ordinal);

            await File.WriteAllLinesAsync(file, ["a=Host=x", "bad name=Host=x"]);
            var (nameExit, _, nameError) = await RunAsync("status", "--databases-file", file);
            Assert.Equal(2, nameExit);
            Assert.Contains("line 2: The outbox database name 'bad name' is invalid", nameError, StringComparison.Ordinal);

            await File.WriteAllLinesAsync(file, ["# nothing yet", ""]);
            var (emptyExit, _, emptyError) = await RunAsync("status", "--databases-file", file);
            Assert.Equal(2, emptyExit);
            Assert.Contains("lists no database", emptyError, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }

        var (missingExit, _, missingError) = await RunAsync("status", "--databases-file", file);
        Assert.Equal(2, missingExit);
        Assert.Contains($"the file '{file}' does not exist", missingError, StringComparison.Ordinal);
    }

    // The table's data rows (after the header and its underline), split into cells.
    private static List<string[]> Rows(string output) =>
        [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2).Select(Cells)];

    private static string[] Row(string output, string database) => Rows(output).Single(r => r[0] == database);

    // Columns are at least two spaces apart; a cell holds single spaces at most ("10 (1 owner)", "5.0 s").
    private static string[] Cells(string line) => Regex.Split(line.TrimEnd('\r').Trim(), @"\s{2,}");

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await OutboxCli.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString().Trim());
    }
}
