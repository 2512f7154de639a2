using System.Diagnostics;
using Npgsql;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>Private clusters of their own: parallel starts, restart, settings, cleanup.</summary>
public sealed class LocalPostgresClusterTests(ITestOutputHelper output)
{
    private PostgresServerOptions Options() => new()
    {
        Kind = PostgresServerKind.LocalCluster,
        Log = TestOutputLog.For(output),
    };

    [Fact]
    public async Task Two_servers_start_in_parallel_with_their_own_port_and_directory()
    {
        var clock = Stopwatch.StartNew();
        var servers = await Task.WhenAll(PostgresServer.StartAsync(Options()), PostgresServer.StartAsync(Options()));
        output.WriteLine($"two servers started in parallel in {clock.ElapsedMilliseconds} ms");
        await using var first = servers[0];
        await using var second = servers[1];

        Assert.All(servers, server => Assert.Equal(PostgresServerKind.LocalCluster, server.Kind));
        Assert.NotEqual(first.Port, second.Port);
        Assert.NotEqual(first.Cluster!.RootDirectory, second.Cluster!.RootDirectory);
        Assert.Matches(@"^outbox-pg-\d+-[0-9a-f]+$", Path.GetFileName(first.Cluster.RootDirectory));

        await PostgresServerTests.ExecuteAsync(first.ConnectionString, "CREATE TABLE marker (id int)");
        Assert.Equal(1L, await PostgresServerTests.ScalarAsync<long>(first.ConnectionString, "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'"));
        Assert.Equal(0L, await PostgresServerTests.ScalarAsync<long>(second.ConnectionString, "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'"));
    }

    [Fact]
    public async Task RestartAsync_keeps_data_port_and_settings()
    {
        var options = Options();
        options.Settings["max_slot_wal_keep_size"] = "64MB";
        var clock = Stopwatch.StartNew();
        await using var server = await PostgresServer.StartAsync(options);
        output.WriteLine($"started in {clock.ElapsedMilliseconds} ms");
        var port = server.Port;
        await PostgresServerTests.ExecuteAsync(server.ConnectionString, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2), (3)");

        clock.Restart();
        await server.RestartAsync();
        output.WriteLine($"restarted in {clock.ElapsedMilliseconds} ms");

        Assert.Equal(port, server.Port);
        Assert.Equal(3L, await PostgresServerTests.ScalarAsync<long>(server.ConnectionString, "SELECT count(*) FROM kept"));
        Assert.Equal("64MB", await PostgresServerTests.ScalarAsync<string>(server.ConnectionString, "SHOW max_slot_wal_keep_size"));
        Assert.Equal("logical", await PostgresServerTests.ScalarAsync<string>(server.ConnectionString, "SHOW wal_level"));
        Assert.Equal("on", await PostgresServerTests.ScalarAsync<string>(server.ConnectionString, "SHOW synchronous_commit"));
        Assert.Equal("300", await PostgresServerTests.ScalarAsync<string>(server.ConnectionString, "SHOW max_connections"));
    }

    [Fact]
    public async Task StopAsync_takes_the_server_down_until_RestartAsync()
    {
        await using var server = await PostgresServer.StartAsync(Options());
        await PostgresServerTests.ExecuteAsync(server.ConnectionString, "CREATE TABLE survives (id int); INSERT INTO survives VALUES (7)");

        await server.StopAsync();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => PostgresServerTests.ScalarAsync<int>(server.ConnectionString, "SELECT 1"));

        await server.RestartAsync();
        Assert.Equal(7, await PostgresServerTests.ScalarAsync<int>(server.ConnectionString, "SELECT id FROM survives"));
    }

    [Fact]
    public async Task A_connection_open_during_RestartAsync_fails_and_a_new_one_works()
    {
        await using var server = await PostgresServer.StartAsync(Options());
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();

        await server.RestartAsync();

        await using var stale = new NpgsqlCommand("SELECT 1", connection);
        await Assert.ThrowsAnyAsync<Exception>(() => stale.ExecuteScalarAsync());
        Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(server.ConnectionString, "SELECT 1"));
    }

    [Fact]
    public async Task DisposeAsync_stops_the_server_and_deletes_its_directory_once()
    {
        var server = await PostgresServer.StartAsync(Options());
        var directory = server.Cluster!.RootDirectory;
        var connectionString = server.ConnectionString;
        Assert.True(Directory.Exists(directory));

        await server.DisposeAsync();
        await server.DisposeAsync();

        Assert.False(Directory.Exists(directory));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => PostgresServerTests.ScalarAsync<int>(connectionString, "SELECT 1"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => server.CreateDatabaseAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => server.RestartAsync());
    }

    [Fact]
    public async Task Leftover_cluster_of_a_dead_process_is_stopped_and_deleted()
    {
        var binaries = await PostgresBinaries.FindAsync(CancellationToken.None);
        Assert.NotNull(binaries);
        var deadPid = await LeftoverClusterCleanerTests.DeadProcessIdAsync();

        // A folder of its own: test processes running in parallel clean leftovers in the shared base directory at start,
        // and would remove this deliberately orphaned cluster while it is still starting.
        var privateBase = Path.Combine(LocalPostgresCluster.BaseDirectory(), "outbox-leftover-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(privateBase);
        await using var leftover = await LocalPostgresCluster.StartNewAsync(
            binaries, [], TestOutputLog.For(output), TimeSpan.FromSeconds(60), CancellationToken.None, ownerPid: deadPid, baseDirectory: privateBase);
        var leftoverConnection = $"Host=127.0.0.1;Port={leftover.Port};Username=postgres;Database=postgres;Pooling=false";
        Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(leftoverConnection, "SELECT 1"));
        // A directory of a live process (ours) must survive the cleanup.
        var live = Path.Combine(privateBase, $"outbox-pg-{Environment.ProcessId}-0123abcd");
        Directory.CreateDirectory(live);
        ClusterOwner.Current()?.WriteTo(live);
        try
        {
            var removed = await LeftoverClusterCleaner.CleanAsync([privateBase], binaries, TestOutputLog.For(output));

            Assert.True(removed >= 1);
            Assert.False(Directory.Exists(leftover.RootDirectory));
            Assert.True(Directory.Exists(live));
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => PostgresServerTests.ScalarAsync<int>(leftoverConnection, "SELECT 1"));
        }
        finally
        {
            Directory.Delete(privateBase, recursive: true);
        }
    }

    [Fact]
    public async Task A_server_named_by_the_environment_gets_a_fresh_database_that_is_dropped_on_dispose()
    {
        await using var host = await PostgresServer.StartAsync(Options());
        var environment = new Dictionary<string, string?> { [PostgresServer.EnvironmentVariable] = host.ConnectionString };

        var options = new PostgresServerOptions { Log = TestOutputLog.For(output) };
        options.Settings["max_slot_wal_keep_size"] = "1GB";
        var server = await PostgresServer.StartCoreAsync(options, name => environment.GetValueOrDefault(name), CancellationToken.None);
        string database;
        await using (server)
        {
            Assert.Equal(PostgresServerKind.Environment, server.Kind);
            Assert.Equal(host.Port, server.Port);
            database = await PostgresServerTests.ScalarAsync<string>(server.ConnectionString, "SELECT current_database()");
            Assert.NotEqual(await PostgresServerTests.ScalarAsync<string>(host.ConnectionString, "SELECT current_database()"), database);
            var extra = await server.CreateDatabaseAsync("extra");
            Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(extra, "SELECT 1"));
            await Assert.ThrowsAsync<NotSupportedException>(() => server.RestartAsync());
        }

        Assert.Equal(0L, await PostgresServerTests.ScalarAsync<long>(
            host.ConnectionString, $"SELECT count(*) FROM pg_database WHERE datname = '{database}' OR datname LIKE 'extra\\_%'"));
    }

    [Fact]
    public async Task A_server_named_by_the_environment_drops_its_databases_with_their_slots()
    {
        await using var host = await PostgresServer.StartAsync(Options());
        var environment = new Dictionary<string, string?> { [PostgresServer.EnvironmentVariable] = host.ConnectionString };
        var server = await PostgresServer.StartCoreAsync(new PostgresServerOptions { Log = TestOutputLog.For(output) }, name => environment.GetValueOrDefault(name), CancellationToken.None);
        TestDatabase database;
        await using (server)
        {
            database = await server.CreateTestDatabaseAsync("with_slot");
            await PostgresServerTests.ExecuteAsync(database.ConnectionString, $"SELECT pg_create_logical_replication_slot('{database.SlotName}', 'pgoutput')");
        }

        Assert.Equal(0L, await PostgresServerTests.ScalarAsync<long>(host.ConnectionString, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{database.SlotName}'"));
        Assert.Equal(0L, await PostgresServerTests.ScalarAsync<long>(host.ConnectionString, $"SELECT count(*) FROM pg_database WHERE datname = '{database.Name}'"));
    }

    [Fact]
    public void The_error_without_any_server_says_how_to_fix_it()
    {
        var exception = PostgresServer.NoServer(new PostgresServerOptions(), ["OUTBOX_TEST_POSTGRES is not set", "no Docker"]);

        Assert.Contains("apt-get update && apt-get install -y postgresql", exception.Message, StringComparison.Ordinal);
        Assert.Contains("OUTBOX_TEST_POSTGRES", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Docker", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("x';--")]
    [InlineData("")]
    public async Task StartAsync_rejects_an_invalid_setting_name_before_starting_anything(string name)
    {
        var options = Options();
        options.Settings[name] = "1";

        await Assert.ThrowsAsync<ArgumentException>(() => PostgresServer.StartAsync(options));
    }

    [Theory]
    [InlineData(null, "test_")]
    [InlineData("Orders.Tests", "orders_tests_")]
    [InlineData("1st", "db_1st_")]
    public void UniqueDatabaseName_is_a_safe_identifier(string? prefix, string expectedStart)
    {
        var name = PostgresServer.UniqueDatabaseName(prefix);

        Assert.StartsWith(expectedStart, name, StringComparison.Ordinal);
        Assert.Matches("^[a-z_][a-z0-9_]{1,62}$", name);
        Assert.NotEqual(name, PostgresServer.UniqueDatabaseName(prefix));
    }

    [Fact]
    public async Task Leftover_of_a_killed_host_that_is_still_a_zombie_is_deleted()
    {
        var binaries = await PostgresBinaries.FindAsync(CancellationToken.None);
        Assert.NotNull(binaries);
        using var parent = LeftoverClusterCleanerTests.StartZombieParent();
        try
        {
            var zombie = await LeftoverClusterCleanerTests.ZombiePidAsync(parent);
            var leftover = Path.Combine(LocalPostgresCluster.BaseDirectory(), $"outbox-pg-{zombie}-feedbeef");
            Directory.CreateDirectory(Path.Combine(leftover, "data"));
            // What the kit writes into every cluster directory it makes: here it names the zombie.
            ClusterOwner.ForProcess(zombie)!.WriteTo(leftover);

            await LeftoverClusterCleaner.CleanAsync([LocalPostgresCluster.BaseDirectory()], binaries, TestOutputLog.For(output));

            Assert.False(Directory.Exists(leftover));
        }
        finally
        {
            parent.Kill();
        }
    }
}
