using System.Globalization;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>
/// CPU time by consumer, read from <c>/proc</c>: the whole machine, this process's threads split into librdkafka
/// (<c>rdk:*</c>) and .NET, the PostgreSQL server's processes (the postmaster and its children) and every other
/// process. The difference of two snapshots says where a run's CPU went, and how much other processes took.
/// </summary>
/// <remarks>
/// The per-process figures (<c>/proc/&lt;pid&gt;/stat</c>) are the scheduler's run time, exact to the nanosecond
/// before rounding; the machine's busy time (<c>/proc/stat</c>) is sampled at the timer tick, and on this kernel
/// (tick-based accounting, tickless idle) it misses much of the short bursts a paced workload is made of: in a
/// 500 transactions/s run it showed 2.04 s busy while the processes' own times summed to 4.37 s. So CPU per event is
/// the sum of the per-process times, and the machine's figure only tells the idle share.
/// </remarks>
internal sealed record CpuSnapshot(double MachineBusy, double MachineTotal, double DotNet, double Librdkafka, double Postgres, double Broker = 0, double Others = 0)
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static CpuSnapshot Take(int? postmasterPid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new CpuSnapshot(0, 0, 0, 0, 0, 0, 0);
        }

        var (busy, total) = ReadMachine();
        double dotnet = 0;
        double rdkafka = 0;
        double broker = 0;

        // The process's own total counts the threads that already exited too (their time leaves /proc/self/task).
        var process = ReadStat("/proc/self/stat")?.Seconds;
        foreach (var task in SafeDirectories("/proc/self/task"))
        {
            if (ReadStat(Path.Combine(task, "stat")) is { } stat)
            {
                if (stat.Comm.StartsWith("rdk:mock", StringComparison.Ordinal))
                {
                    // librdkafka's mock cluster (the embedded broker) runs in this process: it is the broker's CPU.
                    broker += stat.Seconds;
                }
                else if (stat.Comm.StartsWith("rdk:", StringComparison.Ordinal))
                {
                    rdkafka += stat.Seconds;
                }
                else
                {
                    dotnet += stat.Seconds;
                }
            }
        }

        if (process is { } all)
        {
            dotnet = Math.Max(0, all - rdkafka - broker);
        }

        double postgres = 0;
        double others = 0;
        var self = Environment.ProcessId;
        foreach (var proc in SafeDirectories("/proc"))
        {
            var name = Path.GetFileName(proc);
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == self)
            {
                continue;
            }

            if (ReadStat(Path.Combine(proc, "stat")) is { } stat)
            {
                if (postmasterPid is { } pm && (pid == pm || stat.ParentPid == pm))
                {
                    postgres += stat.Seconds;
                }
                else
                {
                    others += stat.Seconds;
                }
            }
        }

        return new CpuSnapshot(busy, total, dotnet, rdkafka, postgres, broker, others);
    }

    public CpuUsage Since(CpuSnapshot start, TimeSpan wall) => new(
        wall.TotalSeconds,
        Environment.ProcessorCount,
        MachineBusy - start.MachineBusy,
        DotNet - start.DotNet,
        Librdkafka - start.Librdkafka,
        Postgres - start.Postgres,
        Broker - start.Broker)
    {
        // A process that started during the run counts from zero; one that ended is missing from the end snapshot.
        Others = Math.Max(0, Others - start.Others),
    };

    private static (double Busy, double Total) ReadMachine()
    {
        var line = File.ReadLines("/proc/stat").First();
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = fields.Take(8).Sum();
        var idle = fields[3] + fields[4];
        return ((total - idle) / TicksPerSecond, total / TicksPerSecond);
    }

    private static string[] SafeDirectories(string path)
    {
        try
        {
            return Directory.GetDirectories(path);
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static (string Comm, int ParentPid, double Seconds)? ReadStat(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // pid (comm) state ppid ... utime(14) stime(15): comm may hold spaces, so split after the last ')'.
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        var comm = text[(open + 1)..close];
        var rest = text[(close + 2)..].Split(' ');
        var ppid = int.Parse(rest[1], CultureInfo.InvariantCulture);
        var utime = double.Parse(rest[11], CultureInfo.InvariantCulture);
        var stime = double.Parse(rest[12], CultureInfo.InvariantCulture);
        return (comm, ppid, (utime + stime) / TicksPerSecond);
    }
}
