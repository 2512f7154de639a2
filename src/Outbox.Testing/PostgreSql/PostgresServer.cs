using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Testcontainers.PostgreSql;

namespace Outbox.Testing;

/// <summary>
/// A real PostgreSQL server for tests, benchmarks and samples, with a database of its own.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="StartAsync"/> chooses, in this order: the server named by the <c>OUTBOX_TEST_POSTGRES</c> environment
/// variable (a connection string; a fresh database is created there for each server); a Testcontainers container when
/// a Docker engine answers; else a private cluster made with this machine's PostgreSQL binaries (a copy of a data
/// directory that <c>initdb</c> made once per machine, in a temporary directory named
/// <c>outbox-pg-&lt;pid&gt;-&lt;random&gt;</c>, <c>wal_level=logical</c>, a free loopback port; the package README
/// gives measured start times).
/// </para>
/// <para>
/// Every kind has <c>wal_level=logical</c> and <c>track_commit_timestamp=on</c> except an <see cref="PostgresServerKind.Environment"/> server, which is used
/// as it is configured. Use <see cref="CreateDatabaseAsync"/> to give each test class a database of its own, so that
/// classes can run in parallel against one server, or <see cref="CreateTestDatabaseAsync"/> for a database that also
/// has a replication slot name of its own (slots are cluster-wide).
/// </para>
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>The environment variable that names an existing server: <c>OUTBOX_TEST_POSTGRES</c>.</summary>
    public const string EnvironmentVariable = "OUTBOX_TEST_POSTGRES";

    private static readonly IReadOnlyDictionary<string, string> s_containerDefaults =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["max_connections"] = "300",
            ["wal_level"] = "logical",
            ["max_replication_slots"] = "10",
            ["max_wal_senders"] = "10",
            ["max_wal_size"] = "4GB",
            ["fsync"] = "off",
            ["full_page_writes"] = "off",
            ["synchronous_commit"] = "on",
            ["track_commit_timestamp"] = "on",
        };

    private readonly string _adminConnectionString;
    private readonly LocalPostgresCluster? _cluster;
    private readonly PostgreSqlContainer? _container;
    private readonly Action<string>? _log;
    private readonly Lock _databasesGate = new();
    private readonly List<string> _databases = [];
    private int _disposed;

    private PostgresServer(
        PostgresServerKind kind,
        string adminConnectionString,
        LocalPostgresCluster? cluster,
        PostgreSqlContainer? container,
        Action<string>? log)
    {
        Kind = kind;
        var admin = new NpgsqlConnectionStringBuilder(adminConnectionString) { Pooling = false };
        _adminConnectionString = admin.ConnectionString;
        Host = admin.Host ?? "localhost";
        Port = admin.Port;
        _cluster = cluster;
        _container = container;
        _log = log;
    }

    /// <summary>Gets where this server comes from.</summary>
    public PostgresServerKind Kind { get; }

    /// <summary>Gets a connection string to the database that this server created for its own use.</summary>
    /// <value>The database is named <c>outbox_&lt;random&gt;</c>; the user is a superuser except, possibly, on an
    /// <see cref="PostgresServerKind.Environment"/> server.</value>
    public string ConnectionString => Database.ConnectionString;

    /// <summary>Gets the database that this server created for its own use, with its own slot and publication names.</summary>
    /// <value>The database of <see cref="ConnectionString"/>.</value>
    public TestDatabase Database { get; private set; } = null!;

    /// <summary>Gets the host name or address the server listens on.</summary>
    public string Host { get; }

    /// <summary>Gets the TCP port the server listens on; it stays the same across <see cref="RestartAsync"/>.</summary>
    public int Port { get; }

    /// <summary>Gets the private cluster behind a <see cref="PostgresServerKind.LocalCluster"/> server.</summary>
    internal LocalPostgresCluster? Cluster => _cluster;

    /// <summary>Starts (or connects to) a PostgreSQL server and creates a database of its own.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the start.</param>
    /// <returns>The running server; dispose it to stop it and delete what it created.</returns>
    /// <exception cref="InvalidOperationException">No server can be had: no <c>OUTBOX_TEST_POSTGRES</c>, no Docker
    /// engine and no PostgreSQL binaries (the message says how to fix it), or the chosen server failed to start.</exception>
    /// <exception cref="ArgumentException">A setting name in <see cref="PostgresServerOptions.Settings"/> is invalid.</exception>
    public static Task<PostgresServer> StartAsync(PostgresServerOptions? options = null, CancellationToken cancellationToken = default) =>
        StartCoreAsync(options, Environment.GetEnvironmentVariable, cancellationToken);

    /// <summary>Starts a server, reading environment variables through <paramref name="environment"/> (tests fake it).</summary>
    internal static async Task<PostgresServer> StartCoreAsync(
        PostgresServerOptions? options, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        options ??= new PostgresServerOptions();
        Validate(options);
        var started = Stopwatch.GetTimestamp();
        var notChosen = new List<string>();
        var server = TryEnvironment(options, environment, notChosen)
                     ?? await TryContainerAsync(options, notChosen, cancellationToken).ConfigureAwait(false)
                     ?? await TryLocalClusterAsync(options, notChosen, cancellationToken).ConfigureAwait(false)
                     ?? throw NoServer(options, notChosen);
        try
        {
            server.Database = await server.CreateTestDatabaseAsync("outbox", cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        options.Log?.Invoke(string.Create(
            CultureInfo.InvariantCulture,
            $"PostgreSQL: {server.Kind} server at {server.Host}:{server.Port} ready in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms, database '{new NpgsqlConnectionStringBuilder(server.ConnectionString).Database}'."));
        return server;
    }

    /// <summary>Creates a database with a unique name on this server.</summary>
    /// <param name="prefix">The start of the name (lower-cased; characters other than letters, digits and
    /// <c>_</c> become <c>_</c>); <see langword="null"/> for <c>test</c>. A random suffix makes it unique.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>A connection string to the new database, with the same user as <see cref="ConnectionString"/>.</returns>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="NpgsqlException">The server refused to create the database.</exception>
    public async Task<string> CreateDatabaseAsync(string? prefix = null, CancellationToken cancellationToken = default) =>
        (await CreateTestDatabaseAsync(prefix, cancellationToken).ConfigureAwait(false)).ConnectionString;

    /// <summary>
    /// Creates a database with a unique name on this server, like <see cref="CreateDatabaseAsync"/>, and returns it with
    /// names of its own for cluster-wide objects: <see cref="TestDatabase.SlotName"/> for a CDC relay's replication slot.
    /// </summary>
    /// <param name="prefix">The start of the name (lower-cased; characters other than letters, digits and
    /// <c>_</c> become <c>_</c>); <see langword="null"/> for <c>test</c>. A random suffix makes it unique.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The new database.</returns>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="NpgsqlException">The server refused to create the database.</exception>
    public async Task<TestDatabase> CreateTestDatabaseAsync(string? prefix = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var name = UniqueDatabaseName(prefix);
        var connection = new NpgsqlConnection(_adminConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // The name is made only of [a-z0-9_], so quoting it is enough.
            var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        lock (_databasesGate)
        {
            _databases.Add(name);
        }

        return new TestDatabase(name, ConnectionStringFor(name));
    }

    /// <summary>
    /// Stops the server quickly (<c>pg_ctl -m fast</c>: open connections are closed) and starts it again with the same
    /// port, data and settings. Chaos tests use it to restart the database under a running relay.
    /// </summary>
    /// <param name="cancellationToken">A token to cancel the restart.</param>
    /// <returns>A task that completes once the server accepts connections again.</returns>
    /// <remarks>Connections pooled by Npgsql for the connection strings this server handed out are cleared; other
    /// pools see their connections fail once and must reconnect.</remarks>
    /// <exception cref="NotSupportedException">The server is not a <see cref="PostgresServerKind.LocalCluster"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="InvalidOperationException"><c>pg_ctl</c> failed.</exception>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        var cluster = RequireLocalCluster(nameof(RestartAsync));
        await cluster.RestartAsync(cancellationToken).ConfigureAwait(false);
        ClearPools();
    }

    /// <summary>
    /// Stops the server (<c>pg_ctl -m fast</c>) and keeps its data, so that tests can watch the code under test while
    /// the database is down; <see cref="RestartAsync"/> starts it again.
    /// </summary>
    /// <param name="cancellationToken">A token to cancel the stop.</param>
    /// <returns>A task that completes once the server has stopped.</returns>
    /// <exception cref="NotSupportedException">The server is not a <see cref="PostgresServerKind.LocalCluster"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="InvalidOperationException"><c>pg_ctl</c> failed.</exception>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var cluster = RequireLocalCluster(nameof(StopAsync));
        await cluster.StopAsync(cancellationToken).ConfigureAwait(false);
        ClearPools();
    }

    /// <summary>
    /// Stops the server and deletes what it created: the cluster and its directory, the container, or (on an
    /// <see cref="PostgresServerKind.Environment"/> server) the databases it created. Calling it again does nothing.
    /// </summary>
    /// <returns>A task that completes when everything is cleaned up.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ClearPools();
        if (Kind == PostgresServerKind.Environment)
        {
            await DropDatabasesAsync().ConfigureAwait(false);
        }

        if (_container is not null)
        {
            await _container.DisposeAsync().ConfigureAwait(false);
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Builds a database name like <c>prefix_0123456789ab</c>, valid and unique.</summary>
    internal static string UniqueDatabaseName(string? prefix)
    {
        var name = new StringBuilder();
        foreach (var c in (prefix ?? "test").ToLowerInvariant())
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            name.Insert(0, "db_");
        }

        // PostgreSQL truncates identifiers to 63 bytes; keep room for the suffix.
        if (name.Length > 40)
        {
            name.Length = 40;
        }

        return name.Append('_').Append(RandomNumberGenerator.GetHexString(12, lowercase: true)).ToString();
    }

    private static void Validate(PostgresServerOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.StartTimeout, TimeSpan.Zero, "options.StartTimeout");
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ContainerImage, "options.ContainerImage");
        foreach (var (name, value) in options.Settings)
        {
            PostgresSettings.ValidateName(name);
            ArgumentNullException.ThrowIfNull(value, $"options.Settings[{name}]");
        }
    }

    private static PostgresServer? TryEnvironment(
        PostgresServerOptions options, Func<string, string?> environment, List<string> notChosen)
    {
        if (options.Kind is not (null or PostgresServerKind.Environment))
        {
            return null;
        }

        var connectionString = environment(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            notChosen.Add($"{EnvironmentVariable} is not set");
            return null;
        }

        options.Log?.Invoke($"PostgreSQL: using the server named by {EnvironmentVariable}.");
        if (options.Settings.Count > 0)
        {
            options.Log?.Invoke(
                $"PostgreSQL: settings {string.Join(", ", options.Settings.Keys)} are ignored: a server named by {EnvironmentVariable} is used as it is.");
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException exception)
        {
            throw new InvalidOperationException($"{EnvironmentVariable} is not a valid Npgsql connection string: {exception.Message}", exception);
        }

        return new PostgresServer(PostgresServerKind.Environment, builder.ConnectionString, cluster: null, container: null, options.Log);
    }

    private static async Task<PostgresServer?> TryContainerAsync(
        PostgresServerOptions options, List<string> notChosen, CancellationToken cancellationToken)
    {
        if (options.Kind is not (null or PostgresServerKind.Container))
        {
            return null;
        }

        var docker = await DockerProbe.DetectAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!docker.IsAvailable)
        {
            notChosen.Add(docker.Description);
            return null;
        }

        options.Log?.Invoke($"PostgreSQL: {docker.Description}; starting container {options.ContainerImage}.");
        var arguments = new List<string>();
        var settings = new Dictionary<string, string>(s_containerDefaults, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in options.Settings)
        {
            settings[name] = value;
        }

        foreach (var (name, value) in settings)
        {
            arguments.Add("-c");
            arguments.Add($"{name}={value}");
        }

        var container = new PostgreSqlBuilder(options.ContainerImage).WithCommand([.. arguments]).Build();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Pulling an image can take a while on a fresh machine; the start timeout covers only the server.
            timeout.CancelAfter(options.StartTimeout + TimeSpan.FromMinutes(5));
            await container.StartAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (options.Kind is null && !cancellationToken.IsCancellationRequested)
        {
            await container.DisposeAsync().ConfigureAwait(false);
            notChosen.Add($"the container failed to start ({exception.GetType().Name}: {exception.Message})");
            options.Log?.Invoke($"PostgreSQL: the container failed to start, trying the next kind: {exception.Message}");
            return null;
        }
        catch
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new PostgresServer(PostgresServerKind.Container, container.GetConnectionString(), cluster: null, container, options.Log);
    }

    private static async Task<PostgresServer?> TryLocalClusterAsync(
        PostgresServerOptions options, List<string> notChosen, CancellationToken cancellationToken)
    {
        if (options.Kind is not (null or PostgresServerKind.LocalCluster))
        {
            return null;
        }

        var binaries = await PostgresBinaries.FindAsync(cancellationToken).ConfigureAwait(false);
        if (binaries is null)
        {
            notChosen.Add("no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found under /usr/lib/postgresql/*/bin, by pg_config --bindir or on the PATH");
            return null;
        }

        var why = notChosen.Count == 0 ? string.Empty : $" ({string.Join("; ", notChosen)})";
        options.Log?.Invoke($"PostgreSQL: starting a private cluster with the binaries in {binaries.Directory}{why}.");
        await LeftoverClusterCleaner.CleanOnceAsync(binaries, options.Log).WaitAsync(cancellationToken).ConfigureAwait(false);
        var cluster = await LocalPostgresCluster
            .StartNewAsync(binaries, options.Settings, options.Log, options.StartTimeout, cancellationToken)
            .ConfigureAwait(false);
        var admin = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = cluster.Port,
            Username = "postgres",
            Database = "postgres",
        };
        return new PostgresServer(PostgresServerKind.LocalCluster, admin.ConnectionString, cluster, container: null, options.Log);
    }

    internal static InvalidOperationException NoServer(PostgresServerOptions options, List<string> notChosen)
    {
        var why = string.Join("; ", notChosen);
        var only = options.Kind is null ? string.Empty : $" (PostgresServerOptions.Kind is {options.Kind})";
        return new InvalidOperationException(
            $"No PostgreSQL server is available for tests{only}: {why}. To fix it, do one of: " +
            "install the PostgreSQL server binaries (Debian/Ubuntu: 'apt-get update && apt-get install -y postgresql'); " +
            $"or set {EnvironmentVariable} to the connection string of a server whose user may create databases " +
            "(for example 'Host=localhost;Username=postgres;Password=postgres'); " +
            $"or run a Docker engine so that Testcontainers can start {options.ContainerImage}.");
    }

    private LocalPostgresCluster RequireLocalCluster(string operation)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _cluster ?? throw new NotSupportedException(
            $"{operation} needs a private cluster, but this server is of kind {Kind}. " +
            "Start it with PostgresServerOptions.Kind = PostgresServerKind.LocalCluster (PostgreSQL binaries required).");
    }

    private string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(_adminConnectionString)
        {
            Database = database,
            Pooling = true,
            IncludeErrorDetail = true,
        }.ConnectionString;

    private void ClearPools()
    {
        string[] databases;
        lock (_databasesGate)
        {
            databases = [.. _databases];
        }

        foreach (var database in databases)
        {
            using var connection = new NpgsqlConnection(ConnectionStringFor(database));
            NpgsqlConnection.ClearPool(connection);
        }
    }

    private async Task DropDatabasesAsync()
    {
        string[] databases;
        lock (_databasesGate)
        {
            databases = [.. _databases];
            _databases.Clear();
        }

        foreach (var database in databases)
        {
            try
            {
                var connection = new NpgsqlConnection(_adminConnectionString);
                await using (connection.ConfigureAwait(false))
                {
                    await connection.OpenAsync().ConfigureAwait(false);
                    var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", connection);
                    await using (command.ConfigureAwait(false))
                    {
                        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
                    }
                }
            }
            catch (NpgsqlException exception)
            {
                _log?.Invoke($"PostgreSQL: could not drop database {database}: {exception.Message}");
            }
        }
    }
}
