using System.Globalization;
using System.Runtime.InteropServices;
using Outbox.Benchmarks.Infrastructure;
using Outbox.Testing;

namespace Outbox.Benchmarks.Report;

/// <summary>What the figures were measured on.</summary>
internal sealed record MachineInfo(string Name, int Cores, string Cpu, double MemoryGiB, string Os, string Runtime, string Postgres, string Kafka, string LoadAverage, string Commit)
{
    public static async Task<MachineInfo> CollectAsync(BenchInfrastructure infrastructure)
    {
        var cpu = ReadFirst("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memKb = ReadFirst("/proc/meminfo", "MemTotal") is { } mem
            ? double.Parse(mem.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture)
            : 0;
        var os = ReadOsRelease() ?? RuntimeInformation.OSDescription;
        var kafka = infrastructure.Kafka.Kind == KafkaServerKind.Embedded
            ? $"librdkafka {Confluent.Kafka.Library.VersionString} mock cluster, {infrastructure.Kafka.Brokers} brokers, in-process"
            : $"{infrastructure.Kafka.Kind} ({infrastructure.Kafka.Brokers} brokers)";
        var postgres = await infrastructure.PostgresVersionAsync();
        postgres = postgres.Split(" on ")[0] + $" ({infrastructure.Postgres.Kind}; fsync=off, synchronous_commit=on)";
        return new MachineInfo(
            SafeName(Environment.MachineName),
            Environment.ProcessorCount,
            cpu,
            memKb / 1024 / 1024,
            os + (File.Exists("/proc/sys/kernel/osrelease") ? ", kernel " + File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : ""),
            RuntimeInformation.FrameworkDescription,
            postgres,
            kafka,
            LoadAverageNow(),
            await CommitAsync());
    }

    /// <summary>The library's commit: <c>OUTBOX_BENCH_COMMIT</c> when set, else <c>git rev-parse HEAD</c>.</summary>
    private static async Task<string> CommitAsync()
    {
        if (Environment.GetEnvironmentVariable("OUTBOX_BENCH_COMMIT") is { Length: > 0 } commit)
        {
            return commit;
        }

        try
        {
            using var git = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("git", "rev-parse HEAD")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (git is null)
            {
                return "unknown";
            }

            var output = await git.StandardOutput.ReadToEndAsync();
            await git.WaitForExitAsync();
            return git.ExitCode == 0 ? output.Trim() : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    public static string LoadAverageNow() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static string SafeName(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-').ToArray();
        return new string(chars);
    }

    private static string? ReadFirst(string path, string key)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line?[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }

    private static string? ReadOsRelease()
    {
        const string path = "/etc/os-release";
        var line = File.Exists(path) ? File.ReadLines(path).FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) : null;
        return line?["PRETTY_NAME=".Length..].Trim('"');
    }
}
