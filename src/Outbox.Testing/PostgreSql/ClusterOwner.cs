using System.Globalization;
using System.Text;

namespace Outbox.Testing;

/// <summary>
/// Who created a private cluster's directory, written into it as <c>outbox-owner</c> when it is created, so that a
/// later cleaner can prove the creator dead before deleting anything: the user id, the machine's boot
/// (<c>/proc/sys/kernel/random/boot_id</c>), the pid namespace (<c>readlink /proc/self/ns/pid</c>), the process id and
/// the process's start time (field 22 of <c>/proc/PID/stat</c>, in clock ticks since boot). Linux only: elsewhere
/// nothing can be proven, and no owner is written.
/// </summary>
internal sealed record ClusterOwner(uint UserId, string BootId, string PidNamespace, int ProcessId, long StartTime)
{
    public const string FileName = "outbox-owner";

    private const string FormatLine = "outbox-cluster-owner 1";

    /// <summary>This process, or <see langword="null"/> when any part cannot be read (not Linux, no /proc).</summary>
    public static ClusterOwner? Current() => ForProcess(Environment.ProcessId);

    /// <summary>
    /// Process <paramref name="processId"/> as seen from here (our user, boot and pid namespace); its start time is 0
    /// when it has exited. <see langword="null"/> when our own identity cannot be read.
    /// </summary>
    public static ClusterOwner? ForProcess(int processId)
    {
        if (!OperatingSystem.IsLinux() || UnixUser.EffectiveUserId is not { } userId
            || ReadBootId() is not { } bootId || ReadPidNamespace() is not { } pidNamespace)
        {
            return null;
        }

        return new ClusterOwner(userId, bootId, pidNamespace, processId, ReadStartTime(processId) ?? 0);
    }

    /// <summary>The current boot's id (a random UUID the kernel makes at boot), or <see langword="null"/>.</summary>
    public static string? ReadBootId()
    {
        try
        {
            var bootId = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            return bootId.Length == 0 ? null : bootId;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Our pid namespace, such as <c>pid:[4026531836]</c>, or <see langword="null"/>.</summary>
    public static string? ReadPidNamespace()
    {
        try
        {
            return new FileInfo("/proc/self/ns/pid").LinkTarget;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Field 22 (starttime) of <c>/proc/PID/stat</c>, or <see langword="null"/> when there is no such process.</summary>
    public static long? ReadStartTime(int processId)
    {
        string stat;
        try
        {
            stat = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{processId}/stat"));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // "PID (command) STATE PPID ...": the command may hold spaces and ')', so count fields after the last ')'.
        // Field 3 (state) is the first one after it, so field 22 is the 20th.
        var end = stat.LastIndexOf(')');
        if (end < 0)
        {
            return null;
        }

        var fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 20 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var startTime)
            ? startTime
            : null;
    }

    /// <summary>Writes the owner file into <paramref name="directory"/> (a temporary file renamed into place, so a reader never sees half of it).</summary>
    public void WriteTo(string directory)
    {
        var text = new StringBuilder()
            .AppendLine(FormatLine)
            .AppendLine(CultureInfo.InvariantCulture, $"uid={UserId}")
            .AppendLine(CultureInfo.InvariantCulture, $"boot_id={BootId}")
            .AppendLine(CultureInfo.InvariantCulture, $"pid_namespace={PidNamespace}")
            .AppendLine(CultureInfo.InvariantCulture, $"pid={ProcessId}")
            .AppendLine(CultureInfo.InvariantCulture, $"start_time={StartTime}")
            .ToString();
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads the owner file of <paramref name="directory"/>; <see langword="null"/> with the reason when it is missing, unreadable or malformed.</summary>
    public static ClusterOwner? TryRead(string directory, out string? problem)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(directory, FileName));
        }
        catch (FileNotFoundException)
        {
            problem = $"it has no {FileName} file (made by an older version of the kit, or by someone else)";
            return null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            problem = $"its {FileName} file cannot be read ({exception.Message})";
            return null;
        }

        var values = lines.Skip(1)
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .GroupBy(parts => parts[0], StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.First()[1], StringComparer.Ordinal);
        if (lines.Length == 0 || lines[0] != FormatLine
            || !values.TryGetValue("uid", out var uid) || !uint.TryParse(uid, NumberStyles.None, CultureInfo.InvariantCulture, out var userId)
            || !values.TryGetValue("boot_id", out var bootId) || bootId.Length == 0
            || !values.TryGetValue("pid_namespace", out var pidNamespace) || pidNamespace.Length == 0
            || !values.TryGetValue("pid", out var pid) || !int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var processId)
            || !values.TryGetValue("start_time", out var start) || !long.TryParse(start, NumberStyles.None, CultureInfo.InvariantCulture, out var startTime))
        {
            problem = $"its {FileName} file is not in a format this version understands";
            return null;
        }

        problem = null;
        return new ClusterOwner(userId, bootId, pidNamespace, processId, startTime);
    }
}
