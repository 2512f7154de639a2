using Npgsql;
using Outbox.Benchmarks.Infrastructure;
using Outbox.Testing;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// The database of a micro-benchmark. BenchmarkDotNet runs each benchmark in a child process: the parent starts one
/// PostgreSQL server (unless <c>OUTBOX_BENCH_POSTGRES</c> names one) and passes it on through that variable; each
/// benchmark's <c>GlobalSetup</c> creates a fresh database on it and drops it in <c>GlobalCleanup</c>.
/// </summary>
public sealed class MicroDatabase : IAsyncDisposable
{
    private readonly string _adminConnectionString;
    private readonly string _name;
    private readonly PostgresServer? _server;

    private MicroDatabase(string adminConnectionString, string name, PostgresServer? server)
    {
        _adminConnectionString = adminConnectionString;
        _name = name;
        _server = server;
        ConnectionString = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    public string ConnectionString { get; }

    /// <summary>Starts a server for BenchmarkDotNet's child processes, unless one is named or nothing will run.</summary>
    public static async Task<IAsyncDisposable> ShareWithChildProcessesAsync(string[] args)
    {
        var listOnly = args.Any(a => a is "--list" or "--help" or "-h" or "--version" or "-?");
        if (listOnly || Environment.GetEnvironmentVariable(BenchInfrastructure.PostgresVariable) is { Length: > 0 })
        {
            return new NoOp();
        }

        Environment.SetEnvironmentVariable(PostgresServer.EnvironmentVariable, null);
        var server = await PostgresServer.StartAsync(new PostgresServerOptions { Log = Progress.Line });
        Environment.SetEnvironmentVariable(BenchInfrastructure.PostgresVariable, server.ConnectionString);
        return server;
    }

    /// <summary>Creates a fresh database (on the shared server, or on a server of its own when none is shared).</summary>
    public static MicroDatabase Create(string prefix)
    {
        PostgresServer? server = null;
        var admin = Environment.GetEnvironmentVariable(BenchInfrastructure.PostgresVariable);
        if (string.IsNullOrEmpty(admin))
        {
            Environment.SetEnvironmentVariable(PostgresServer.EnvironmentVariable, null);
            server = PostgresServer.StartAsync().GetAwaiter().GetResult();
            admin = server.ConnectionString;
        }

        var name = prefix + "_" + Guid.NewGuid().ToString("N")[..12];
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(admin) { Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        command.ExecuteNonQuery();
        return new MicroDatabase(admin, name, server);
    }

    public void Execute(string sql)
    {
        using var connection = new NpgsqlConnection(ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        command.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_adminConnectionString) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private sealed class NoOp : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
