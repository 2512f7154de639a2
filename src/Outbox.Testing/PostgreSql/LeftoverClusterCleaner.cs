using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Outbox.Testing;

/// <summary>
/// Removes private clusters that crashed test runs left behind: only directories with our prefix, and only when
/// the process named in the directory is gone. A postmaster still running there is stopped first.
/// </summary>
internal static partial class LeftoverClusterCleaner
{
    private static readonly Lock s_gate = new();
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
                var match = ClusterDirectoryName().Match(Path.GetFileName(directory));
                if (!match.Success
                    || !int.TryParse(match.Groups["pid"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                    || OwnerIsAlive(pid, directory))
                {
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

    /// <summary>
    /// Whether the process that created <paramref name="directory"/> still runs: not when its pid is gone, is a
    /// zombie (a killed test host stays one until it is reaped, which can take a while in containers), or now
    /// belongs to a process that started after the directory was created (the pid was reused).
    /// </summary>
    private static bool OwnerIsAlive(int pid, string directory)
    {
        if (!IsAlive(pid))
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            var created = Directory.GetCreationTimeUtc(directory);
            return process.StartTime.ToUniversalTime() <= created.AddSeconds(5);
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException
                                              or System.ComponentModel.Win32Exception or NotSupportedException
                                              or IOException or UnauthorizedAccessException)
        {
            // Cannot tell: leave the directory alone.
            return true;
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
