using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Outbox.Testing;

/// <summary>
/// A private PostgreSQL cluster made with the machine's binaries in a temporary directory named
/// <c>outbox-pg-&lt;pid&gt;-&lt;random&gt;</c>: a copy of the machine's <see cref="ClusterTemplateCache"/> template
/// (<c>initdb</c> runs once per machine, not once per cluster), this cluster's settings appended to its
/// <c>postgresql.conf</c>, started with <c>pg_ctl</c> on a free loopback port. The directory holds a
/// <see cref="ClusterOwner"/> file, so that <see cref="LeftoverClusterCleaner"/> can prove when its creator is dead.
/// </summary>
internal sealed class LocalPostgresCluster : IAsyncDisposable
{
    public const string DirectoryPrefix = "outbox-pg-";

    /// <summary>The operating-system user that runs the server when we are root.</summary>
    private const string ServiceUser = "postgres";

    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(60);

    private readonly PostgresBinaries _binaries;
    private readonly Action<string>? _log;
    private readonly TimeSpan _startTimeout;
    private readonly string? _runAs;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly EventHandler _onProcessExit;
    private bool _running;
    private int _disposed;

    private LocalPostgresCluster(PostgresBinaries binaries, string rootDirectory, Action<string>? log, TimeSpan startTimeout)
    {
        _binaries = binaries;
        _log = log;
        _startTimeout = startTimeout;
        _runAs = ServerUser;
        RootDirectory = rootDirectory;
        DataDirectory = Path.Combine(rootDirectory, "data");
        LogFile = Path.Combine(rootDirectory, "postgresql.log");
        _onProcessExit = (_, _) => StopAndDeleteAtProcessExit();
    }

    /// <summary>The directory that holds everything: data directory, server log and unix socket.</summary>
    public string RootDirectory { get; }

    public string DataDirectory { get; }

    public string LogFile { get; }

    public int Port { get; private set; }

    public bool IsRunning => _running;

    /// <summary>The user the server runs as: <c>postgres</c> when we are root, else <see langword="null"/> (ourselves).</summary>
    public static string? ServerUser => UnixUser.IsRoot ? ServiceUser : null;

    /// <summary>Whether making this cluster ran <c>initdb</c>: it built the template, or no template cache could be used.</summary>
    public bool RanInitDb { get; private set; }

    /// <summary>Settings every private cluster gets, before the caller's (which win).</summary>
    public static IReadOnlyDictionary<string, string> DefaultSettings { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["listen_addresses"] = "127.0.0.1",
        ["shared_buffers"] = "256MB",
        ["max_connections"] = "300",
        ["wal_level"] = "logical",
        ["max_replication_slots"] = "10",
        ["max_wal_senders"] = "10",
        ["max_wal_size"] = "4GB",
        ["fsync"] = "off",
        ["full_page_writes"] = "off",
        // Kept on deliberately: with it off, logical decoding sees WAL only after the WAL writer flushes it.
        ["synchronous_commit"] = "on",
        // Commit order of rows written without the commit-order trigger (CDC backlog, switch to polling): docs/relay-cdc.md.
        ["track_commit_timestamp"] = "on",
    };

    /// <summary>
    /// Creates, configures and starts a cluster. The caller owns it and must dispose it. <paramref name="ownerPid"/>
    /// is the process id written into the directory name and its owner file (ours by default; tests pass a dead one).
    /// <paramref name="baseDirectory"/> is where the cluster directory goes (<see cref="BaseDirectory"/> by default; a test
    /// that fakes a dead owner uses a folder of its own, which the cleaners of other test processes do not scan).
    /// <paramref name="templateCacheDirectory"/> is the template cache (<see cref="ClusterTemplateCache.DefaultDirectory"/>
    /// by default; tests use one of their own).
    /// </summary>
    public static async Task<LocalPostgresCluster> StartNewAsync(
        PostgresBinaries binaries,
        IEnumerable<KeyValuePair<string, string>> settings,
        Action<string>? log,
        TimeSpan startTimeout,
        CancellationToken cancellationToken,
        int? ownerPid = null,
        string? baseDirectory = null,
        string? templateCacheDirectory = null)
    {
        var name = string.Create(
            CultureInfo.InvariantCulture,
            $"{DirectoryPrefix}{ownerPid ?? Environment.ProcessId}-{RandomNumberGenerator.GetHexString(8, lowercase: true)}");
        var root = Path.Combine(baseDirectory ?? BaseDirectory(), name);
        Directory.CreateDirectory(root);
        // Written before anything else, so that no cleaner ever sees this directory without it for long; a cleaner
        // that does (or that cannot read it) leaves the directory alone.
        ClusterOwner.ForProcess(ownerPid ?? Environment.ProcessId)?.WriteTo(root);
        var cluster = new LocalPostgresCluster(binaries, root, log, startTimeout);
        AppDomain.CurrentDomain.ProcessExit += cluster._onProcessExit;
        try
        {
            await cluster.InitializeAsync(settings, templateCacheDirectory ?? ClusterTemplateCache.DefaultDirectory(), cancellationToken)
                .ConfigureAwait(false);
            await cluster.StartOnFreePortAsync(cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops the server quickly (<c>pg_ctl -m fast</c>) and starts it again: same port, same data.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_running)
            {
                await StopCoreAsync("fast", cancellationToken).ConfigureAwait(false);
            }

            await StartCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops the server (<c>pg_ctl -m fast</c>), keeping its data for <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_running)
            {
                await StopCoreAsync("fast", cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifecycle.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            // No pid file: never started, already stopped, or removed by someone else (leftover cleanup).
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                try
                {
                    await StopCoreAsync("fast", CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is InvalidOperationException or TimeoutException)
                {
                    _log?.Invoke($"PostgreSQL: fast stop failed ({exception.Message}); stopping immediately.");
                    await StopCoreAsync("immediate", CancellationToken.None).ConfigureAwait(false);
                }
            }

            DeleteDirectory(RootDirectory, _log);
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= _onProcessExit;
            _lifecycle.Release();
        }
    }

    /// <summary>Deletes a cluster directory; failures are logged, never thrown (this is cleanup).</summary>
    public static void DeleteDirectory(string directory, Action<string>? log)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }

                return;
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // A server that just stopped may still be removing its socket or pid file.
                if (attempt == 3)
                {
                    log?.Invoke($"PostgreSQL: could not delete {directory}: {exception.Message}");
                    return;
                }

                Thread.Sleep(100 * attempt);
            }
        }
    }

    /// <summary>Where cluster directories go: the temp directory, or <c>/tmp</c> when the server user could not reach it.</summary>
    public static string BaseDirectory()
    {
        var temp = Path.GetTempPath();
        if (!UnixUser.IsRoot || OperatingSystem.IsWindows() || IsTraversableByOthers(temp))
        {
            return temp;
        }

        return "/tmp";
    }

    /// <summary>Whether every directory from <paramref name="path"/> up to the root lets other users pass (o+x).</summary>
    internal static bool IsTraversableByOthers(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        for (var directory = new DirectoryInfo(path); directory is not null; directory = directory.Parent)
        {
            if (!directory.Exists || (directory.UnixFileMode & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Gives <paramref name="directory"/> to the server's user (we are root) and makes it private (0700).</summary>
    internal static async Task HandToServerUserAsync(string directory, string? runAs, CancellationToken cancellationToken)
    {
        if (runAs is not null)
        {
            // initdb, cp and the server run as the service user and create the data directory inside this one.
            var chown = await ExternalProcess
                .RunAsync(new ProcessCommand("chown", [runAs + ":", directory]), TimeSpan.FromSeconds(30), cancellationToken)
                .ConfigureAwait(false);
            if (!chown.Succeeded)
            {
                throw new InvalidOperationException(
                    $"Could not hand {directory} to the '{runAs}' user (PostgreSQL refuses to run as root): {chown.Output}");
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private async Task InitializeAsync(
        IEnumerable<KeyValuePair<string, string>> settings, string templateCacheDirectory, CancellationToken cancellationToken)
    {
        await HandToServerUserAsync(RootDirectory, _runAs, cancellationToken).ConfigureAwait(false);
        var cache = ClusterTemplateCache.TryOpen(templateCacheDirectory, _binaries, _runAs, _log);
        if (cache is null)
        {
            await InitDb.RunAsync(_binaries, DataDirectory, _runAs, cancellationToken).ConfigureAwait(false);
            RanInitDb = true;
        }
        else
        {
            RanInitDb = await cache.CopyToAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
        }

        // The template's postgresql.conf is initdb's; everything of this cluster's own goes after it.
        var merged = new Dictionary<string, string>(DefaultSettings, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in settings)
        {
            merged[name] = value;
        }

        if (!OperatingSystem.IsWindows())
        {
            merged["unix_socket_directories"] = RootDirectory;
        }

        var configuration = new StringBuilder().AppendLine().AppendLine("# Outbox.Testing private cluster");
        foreach (var (name, value) in merged)
        {
            configuration.AppendLine(PostgresSettings.ToConfigurationLine(name, value));
        }

        await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), configuration.ToString(), cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task StartOnFreePortAsync(CancellationToken cancellationToken)
    {
        const int attempts = 5;
        for (var attempt = 1; ; attempt++)
        {
            Port = FreeLoopbackPort();
            await File.AppendAllTextAsync(
                    Path.Combine(DataDirectory, "postgresql.conf"),
                    PostgresSettings.ToConfigurationLine("port", Port.ToString(CultureInfo.InvariantCulture)) + Environment.NewLine,
                    cancellationToken)
                .ConfigureAwait(false);
            try
            {
                await StartCoreAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException) when (attempt < attempts && ServerLogMentionsPortInUse())
            {
                // Another process took the port between our probe and the server's bind: pick another.
                _log?.Invoke($"PostgreSQL: port {Port} was taken, retrying with another one.");
            }
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var seconds = Math.Max(1, (int)Math.Ceiling(_startTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var result = await ExternalProcess.RunAsync(
                new ProcessCommand(_binaries.PgCtl, ["-D", DataDirectory, "-l", LogFile, "-w", "-t", seconds, "start"], RootDirectory)
                    .AsUser(_runAs),
                _startTimeout + TimeSpan.FromSeconds(30),
                cancellationToken)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            // pg_ctl may have left a half-started postmaster behind.
            await StopCoreAsync("immediate", CancellationToken.None, throwOnFailure: false).ConfigureAwait(false);
            throw new InvalidOperationException(
                $"pg_ctl start failed with exit code {result.ExitCode}: {result.Output}{Environment.NewLine}" +
                $"Server log ({LogFile}):{Environment.NewLine}{ServerLogTail()}");
        }

        _running = true;
        _log?.Invoke($"PostgreSQL: server on 127.0.0.1:{Port} started in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms.");
    }

    private async Task StopCoreAsync(string mode, CancellationToken cancellationToken, bool throwOnFailure = true)
    {
        var result = await ExternalProcess.RunAsync(StopCommand(mode), s_stopTimeout + TimeSpan.FromSeconds(30), cancellationToken)
            .ConfigureAwait(false);
        _running = false;
        if (!result.Succeeded && throwOnFailure && File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            throw new InvalidOperationException($"pg_ctl stop -m {mode} failed with exit code {result.ExitCode}: {result.Output}");
        }
    }

    private ProcessCommand StopCommand(string mode) =>
        new ProcessCommand(
                _binaries.PgCtl,
                ["-D", DataDirectory, "-m", mode, "-w", "-t", ((int)s_stopTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture), "stop"],
                RootDirectory)
            .AsUser(_runAs);

    /// <summary>The test host is exiting without having disposed us: stop at once and clean up, synchronously.</summary>
    private void StopAndDeleteAtProcessExit()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            ExternalProcess.Run(StopCommand("immediate"), TimeSpan.FromSeconds(20));
        }

        DeleteDirectory(RootDirectory, log: null);
    }

    private bool ServerLogMentionsPortInUse()
    {
        var tail = ServerLogTail();
        return tail.Contains("could not bind", StringComparison.OrdinalIgnoreCase)
               || tail.Contains("already in use", StringComparison.OrdinalIgnoreCase);
    }

    private string ServerLogTail()
    {
        try
        {
            var lines = File.ReadAllLines(LogFile);
            return string.Join(Environment.NewLine, lines.TakeLast(20));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return "(no server log)";
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
