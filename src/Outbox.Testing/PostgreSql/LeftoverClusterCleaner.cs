using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Outbox.Testing;

/// <summary>
/// Removes private clusters that crashed test runs left behind. <c>/tmp</c> may be shared by several users and
/// containers, and a process id alone proves nothing there (another pid namespace has its own pids; pids are reused),
/// so a directory with our prefix is removed only when its <see cref="ClusterOwner"/> file proves its creator dead:
/// same user as us, same boot, same pid namespace, and that pid gone (or a zombie) or now held by a process with another
/// start time. Anything else is left alone and logged once per process. A postmaster still running there is stopped first.
/// </summary>
internal static partial class LeftoverClusterCleaner
{
    private static readonly Lock s_gate = new();
    private static readonly ConcurrentDictionary<string, byte> s_reported = new(StringComparer.Ordinal);
    private static Task? s_once;

    /// <summary>Cleans once per process; later calls share the first run.</summary>
    public static Task CleanOnceAsync(PostgresBinaries binaries, Action<string>? log)
    {
        lock (s_gate)
        {
            return s_once ??= CleanAsync([LocalPostgresCluster.BaseDirectory(), Path.GetTempPath()], binaries, log);
        }
    }

    /// <summary>Cleans leftovers under the given directories and returns how many were removed.</summary>
    public static async Task<int> CleanAsync(IEnumerable<string> baseDirectories, PostgresBinaries binaries, Action<string>? log)
    {
        var self = ClusterOwner.Current();
        var removed = 0;
        foreach (var baseDirectory in baseDirectories.Select(Path.GetFullPath).Distinct(StringComparer.Ordinal))
        {
            IEnumerable<string> candidates;
            try
            {
                candidates = Directory.EnumerateDirectories(baseDirectory, LocalPostgresCluster.DirectoryPrefix + "*").ToList();
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var directory in candidates)
            {
                if (!ClusterDirectoryName().IsMatch(Path.GetFileName(directory)))
                {
                    continue;
                }

                var (remove, whyKept) = Judge(directory, self);
                if (!remove)
                {
                    if (whyKept is not null && s_reported.TryAdd(directory, 0))
                    {
                        log?.Invoke($"PostgreSQL: left {directory} alone: {whyKept}. Delete it by hand if it is yours and unused.");
                    }

                    continue;
                }

                try
                {
                    await RemoveAsync(directory, binaries, log).ConfigureAwait(false);
                    removed++;
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException
                                                      or InvalidOperationException or TimeoutException
                                                      or System.ComponentModel.Win32Exception)
                {
                    log?.Invoke($"PostgreSQL: could not remove leftover cluster {directory}: {exception.Message}");
                }
            }
        }

        return removed;
    }

    /// <summary>
    /// Whether <paramref name="directory"/> may be removed: only when its owner file proves its creator dead. When it
    /// may not, the reason, or <see langword="null"/> when the creator simply still runs (nothing worth logging).
    /// </summary>
    internal static (bool Remove, string? WhyKept) Judge(string directory, ClusterOwner? self)
    {
        if (self is null)
        {
            return (false, "this system does not let us prove its creator dead (that needs Linux's /proc)");
        }

        var owner = ClusterOwner.TryRead(directory, out var problem);
        if (owner is null)
        {
            return (false, problem);
        }

        if (owner.UserId != self.UserId)
        {
            return (false, string.Create(CultureInfo.InvariantCulture, $"it belongs to user id {owner.UserId}, not to us ({self.UserId})"));
        }

        if (!string.Equals(owner.BootId, self.BootId, StringComparison.Ordinal))
        {
            return (false, $"it was made during another boot or on another machine (boot id {owner.BootId})");
        }

        if (!string.Equals(owner.PidNamespace, self.PidNamespace, StringComparison.Ordinal))
        {
            return (false, $"its creator ran in another pid namespace ({owner.PidNamespace}, ours is {self.PidNamespace}), such as another container");
        }

        // Gone, or a zombie (a killed test host stays one until it is reaped, which can take a while in containers).
        if (LinuxProcessState(owner.ProcessId) is null or 'Z' or 'X')
        {
            return (true, null);
        }

        // Alive, but a process that started at another time holds the pid now: the creator is gone.
        return ClusterOwner.ReadStartTime(owner.ProcessId) is { } startTime && startTime != owner.StartTime
            ? (true, null)
            : (false, null);
    }

    private static async Task RemoveAsync(string directory, PostgresBinaries binaries, Action<string>? log)
    {
        var dataDirectory = Path.Combine(directory, "data");
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (File.Exists(pidFile))
        {
            var stop = await ExternalProcess.RunAsync(
                    new ProcessCommand(binaries.PgCtl, ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"], directory)
                        .AsUser(UnixUser.IsRoot ? "postgres" : null),
                    TimeSpan.FromSeconds(60),
                    CancellationToken.None)
                .ConfigureAwait(false);
            if (!stop.Succeeded && File.Exists(pidFile))
            {
                KillPostmaster(pidFile);
            }
        }

        LocalPostgresCluster.DeleteDirectory(directory, log);
        log?.Invoke($"PostgreSQL: removed leftover cluster {directory}.");
    }

    /// <summary>Last resort when pg_ctl could not stop it: the first line of postmaster.pid is its process id.</summary>
    private static void KillPostmaster(string pidFile)
    {
        var firstLine = File.ReadLines(pidFile).FirstOrDefault();
        if (int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && IsAlive(pid))
        {
            using var postmaster = Process.GetProcessById(pid);
            postmaster.Kill();
            postmaster.WaitForExit(TimeSpan.FromSeconds(10));
        }
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }

        if (OperatingSystem.IsLinux())
        {
            return LinuxProcessState(pid) is not (null or 'Z' or 'X');
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The state letter of <c>/proc/PID/stat</c> (R, S, D, Z, X, ...), or <see langword="null"/> when there is no such process.</summary>
    private static char? LinuxProcessState(int pid)
    {
        try
        {
            var stat = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/stat"));
            // "PID (command) STATE ...": the command may contain spaces and parentheses, so look after the last ')'.
            var end = stat.LastIndexOf(')');
            return end >= 0 && end + 2 < stat.Length ? stat[end + 2] : null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"\Aoutbox-pg-(?<pid>[0-9]+)-[0-9a-f]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex ClusterDirectoryName();
}
