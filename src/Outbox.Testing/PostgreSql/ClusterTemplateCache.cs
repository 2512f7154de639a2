using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Outbox.Testing;

/// <summary>
/// <c>initdb</c> once per machine: a data directory made by initdb is kept as a template, and each private cluster
/// starts from a copy of it. The template's name is a hash of what makes it what it is (the binaries, initdb's
/// arguments, the user that runs the server and <see cref="FormatVersion"/>), so another PostgreSQL or another kit
/// version gets a template of its own.
/// </summary>
/// <remarks>
/// <para>
/// A template is built in a temporary directory next to it and renamed into place once its marker file
/// (<see cref="MarkerFileName"/>, written last) is there; a template without a valid marker is damaged, and is removed
/// and rebuilt, never used. Test processes coordinate through a lock file next to the template: a builder holds it
/// exclusively, copiers share it (.NET takes an advisory <c>flock</c> for <see cref="FileShare.None"/> (exclusive) and
/// for other shares opened for reading (shared)). Without locks (a file system that ignores them) the rename still
/// lets only one complete template in, and the marker still keeps half-made ones out.
/// </para>
/// <para>
/// The cache directory is <see cref="EnvironmentVariable"/> when set, else <c>outbox-pgtemplates-&lt;uid&gt;</c> in
/// the directory that holds the clusters. It must belong to us and be writable by nobody else (checked on Linux):
/// a template is run as the server's user, so one that somebody else planted would run their settings. When we are
/// root, the server's user must be able to reach it. Otherwise each cluster runs initdb for itself.
/// </para>
/// </remarks>
internal sealed class ClusterTemplateCache
{
    /// <summary>Overrides where templates are kept: <c>OUTBOX_TEST_POSTGRES_TEMPLATES</c>.</summary>
    public const string EnvironmentVariable = "OUTBOX_TEST_POSTGRES_TEMPLATES";

    /// <summary>Bumped whenever what a template contains or how it is laid out changes.</summary>
    public const int FormatVersion = 1;

    public const string MarkerFileName = "outbox-template.ok";

    private static readonly TimeSpan s_lockTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan s_lockPollInterval = TimeSpan.FromMilliseconds(100);

    private readonly PostgresBinaries _binaries;
    private readonly string? _runAs;
    private readonly Action<string>? _log;
    private readonly string _keyText;

    private ClusterTemplateCache(string directory, PostgresBinaries binaries, string? runAs, Action<string>? log)
    {
        Directory = directory;
        _binaries = binaries;
        _runAs = runAs;
        _log = log;
        _keyText = KeyText(binaries, runAs);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(_keyText)))[..16];
        TemplateDirectory = Path.Combine(directory, "template-" + key);
        LockFile = TemplateDirectory + ".lock";
    }

    /// <summary>The cache directory.</summary>
    public string Directory { get; }

    /// <summary>The template for this machine's binaries and server user: its <c>data</c> directory and its marker.</summary>
    public string TemplateDirectory { get; }

    public string LockFile { get; }

    private string TemplateDataDirectory => Path.Combine(TemplateDirectory, "data");

    private string MarkerFile => Path.Combine(TemplateDirectory, MarkerFileName);

    /// <summary>The default cache directory: <see cref="EnvironmentVariable"/>, else one per user next to the clusters.</summary>
    public static string DefaultDirectory()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }

        var user = UnixUser.EffectiveUserId?.ToString(CultureInfo.InvariantCulture) ?? Environment.UserName;
        return Path.Combine(LocalPostgresCluster.BaseDirectory(), "outbox-pgtemplates-" + user);
    }

    /// <summary>
    /// Opens (creating it when missing) the cache in <paramref name="directory"/>, or returns <see langword="null"/>
    /// (and logs why) when it is not safe to use: owned by someone else or writable by others.
    /// </summary>
    public static ClusterTemplateCache? TryOpen(string directory, PostgresBinaries binaries, string? runAs, Action<string>? log)
    {
        try
        {
            if (OperatingSystem.IsWindows())
            {
                System.IO.Directory.CreateDirectory(directory);
            }
            else
            {
                // The server's user must be able to enter it when we are root; nobody else may write into it.
                System.IO.Directory.CreateDirectory(
                    directory,
                    UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | (runAs is null ? UnixFileMode.None : UnixFileMode.GroupExecute | UnixFileMode.OtherExecute));
                var mode = File.GetUnixFileMode(directory);
                if ((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
                {
                    log?.Invoke($"PostgreSQL: not using the template cache {directory}: others may write into it ({mode}); running initdb for this cluster.");
                    return null;
                }

                if (runAs is not null && !LocalPostgresCluster.IsTraversableByOthers(directory))
                {
                    log?.Invoke($"PostgreSQL: not using the template cache {directory}: the '{runAs}' user cannot reach it; running initdb for this cluster.");
                    return null;
                }

                if (UnixUser.OwnerOf(directory) is { } owner && UnixUser.EffectiveUserId is { } self && owner != self)
                {
                    log?.Invoke(string.Create(
                        CultureInfo.InvariantCulture,
                        $"PostgreSQL: not using the template cache {directory}: it belongs to user id {owner}, not to us ({self}); running initdb for this cluster."));
                    return null;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            log?.Invoke($"PostgreSQL: not using the template cache {directory}: {exception.Message}; running initdb for this cluster.");
            return null;
        }

        return new ClusterTemplateCache(directory, binaries, runAs, log);
    }

    /// <summary>
    /// Copies the template's data directory to <paramref name="dataDirectory"/> (which must not exist; its parent must be
    /// writable by the server's user), building the template first when there is none or it is damaged.
    /// </summary>
    /// <returns>Whether this call ran initdb (it built the template).</returns>
    /// <exception cref="InvalidOperationException">initdb or the copy failed.</exception>
    /// <exception cref="TimeoutException">Another process held the template's lock for too long.</exception>
    public async Task<bool> CopyToAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        using (var shared = await LockAsync(exclusive: false, cancellationToken).ConfigureAwait(false))
        {
            if (IsComplete())
            {
                await CopyTemplateAsync(dataDirectory, cancellationToken).ConfigureAwait(false);
                return false;
            }
        }

        using (var exclusive = await LockAsync(exclusive: true, cancellationToken).ConfigureAwait(false))
        {
            // Another process may have built it while we waited.
            var built = false;
            if (!IsComplete())
            {
                await BuildAsync(cancellationToken).ConfigureAwait(false);
                built = true;
            }

            await CopyTemplateAsync(dataDirectory, cancellationToken).ConfigureAwait(false);
            return built;
        }
    }

    /// <summary>Whether the template is there and whole: its marker (written last) names this key, and the data directory has its control files.</summary>
    internal bool IsComplete()
    {
        try
        {
            return File.Exists(MarkerFile)
                   && File.ReadAllText(MarkerFile).StartsWith(_keyText, StringComparison.Ordinal)
                   && File.Exists(Path.Combine(TemplateDataDirectory, "PG_VERSION"))
                   && File.Exists(Path.Combine(TemplateDataDirectory, "global", "pg_control"));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string KeyText(PostgresBinaries binaries, string? runAs)
    {
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"outbox-pg-template {FormatVersion}")
            .AppendLine(CultureInfo.InvariantCulture, $"bindir={binaries.Directory}");
        // A package upgrade replaces the programs in place: their size and time stand for the version.
        foreach (var program in new[] { binaries.InitDb, binaries.Postgres })
        {
            var file = new FileInfo(program);
            text.AppendLine(CultureInfo.InvariantCulture, $"{file.Name}={(file.Exists ? file.Length : -1)}:{(file.Exists ? file.LastWriteTimeUtc.Ticks : 0)}");
        }

        var user = runAs ?? Environment.UserName + ":" + UnixUser.EffectiveUserId?.ToString(CultureInfo.InvariantCulture);
        return text
            .AppendLine(CultureInfo.InvariantCulture, $"initdb {string.Join(' ', InitDb.Arguments)} {string.Join('|', InitDb.LocaleArguments)}")
            .AppendLine(CultureInfo.InvariantCulture, $"user={user}")
            .ToString();
    }

    /// <summary>Builds the template from scratch; the caller holds the exclusive lock.</summary>
    private async Task BuildAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (System.IO.Directory.Exists(TemplateDirectory))
        {
            _log?.Invoke($"PostgreSQL: the cluster template {TemplateDirectory} is incomplete or damaged; rebuilding it.");
            Discard(TemplateDirectory);
        }

        // Half-built templates of crashed builders (nobody else builds while we hold the lock).
        foreach (var stale in System.IO.Directory.EnumerateDirectories(Directory, Path.GetFileName(TemplateDirectory) + ".building-*"))
        {
            LocalPostgresCluster.DeleteDirectory(stale, _log);
        }

        var building = string.Create(
            CultureInfo.InvariantCulture,
            $"{TemplateDirectory}.building-{Environment.ProcessId}-{RandomNumberGenerator.GetHexString(8, lowercase: true)}");
        System.IO.Directory.CreateDirectory(building);
        try
        {
            await LocalPostgresCluster.HandToServerUserAsync(building, _runAs, cancellationToken).ConfigureAwait(false);
            var locale = await InitDb.RunAsync(_binaries, Path.Combine(building, "data"), _runAs, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(building, MarkerFileName), _keyText + "locale=" + locale + Environment.NewLine, cancellationToken)
                .ConfigureAwait(false);
            System.IO.Directory.Move(building, TemplateDirectory);
        }
        catch
        {
            LocalPostgresCluster.DeleteDirectory(building, _log);
            throw;
        }

        _log?.Invoke($"PostgreSQL: built the cluster template {TemplateDirectory} with initdb in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms.");
    }

    /// <summary>Moves a damaged template out of the way first, so that its name is free even if deleting it fails.</summary>
    private void Discard(string directory)
    {
        var trash = directory + ".damaged-" + RandomNumberGenerator.GetHexString(8, lowercase: true);
        System.IO.Directory.Move(directory, trash);
        LocalPostgresCluster.DeleteDirectory(trash, _log);
    }

    private async Task CopyTemplateAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (OperatingSystem.IsWindows())
        {
            CopyDirectory(TemplateDataDirectory, dataDirectory);
        }
        else
        {
            // cp -a keeps the modes (the data directory stays 0700); run as the server's user, it owns the copy.
            var copy = await ExternalProcess.RunAsync(
                    new ProcessCommand("cp", ["-a", TemplateDataDirectory, dataDirectory], Path.GetDirectoryName(dataDirectory)).AsUser(_runAs),
                    TimeSpan.FromMinutes(2),
                    cancellationToken)
                .ConfigureAwait(false);
            if (!copy.Succeeded)
            {
                throw new InvalidOperationException(
                    $"Could not copy the cluster template {TemplateDataDirectory} to {dataDirectory} (exit code {copy.ExitCode}): {copy.Output}");
            }
        }

        _log?.Invoke($"PostgreSQL: data directory copied from the template {TemplateDirectory} in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms (no initdb).");
    }

    private static void CopyDirectory(string source, string target)
    {
        System.IO.Directory.CreateDirectory(target);
        foreach (var file in System.IO.Directory.EnumerateFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        foreach (var directory in System.IO.Directory.EnumerateDirectories(source))
        {
            CopyDirectory(directory, Path.Combine(target, Path.GetFileName(directory)));
        }
    }

    /// <summary>Takes the template's lock, polling: an advisory lock fails at once instead of waiting.</summary>
    private async Task<FileStream> LockAsync(bool exclusive, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(s_lockTimeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                return exclusive
                    ? new FileStream(LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)
                    : new FileStream(LockFile, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
            }
            catch (IOException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(s_lockPollInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException exception)
            {
                throw new TimeoutException(
                    $"Another process held the cluster template lock {LockFile} for more than {s_lockTimeout.TotalMinutes:0} minutes.", exception);
            }
        }
    }
}
