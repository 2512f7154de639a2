using System.Globalization;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>The options of the <c>fleet</c> command. <see cref="Databases"/> is each scenario's own default when not given.</summary>
internal sealed record FleetSettings(
    IReadOnlyList<string> Scenarios, int? Databases, int Rate, int HotFactor, int Seconds, int Messages, int Partitions, IReadOnlyList<int> MaxListening, int SettleSeconds, int CpuSeconds)
{
    public const int FairnessDatabases = 10;
    public const int ScaleDatabases = 20;
    public const int ConnectionsDatabases = 200;

    public static readonly string[] All = ["fairness", "scale", "connections"];

    public static FleetSettings From(BenchArguments options)
    {
        var scenario = options.GetString("scenario", "all");
        IReadOnlyList<string> scenarios = scenario == "all" ? All
            : All.Contains(scenario) ? [scenario]
            : throw new ArgumentException($"--scenario must be fairness, scale, connections or all, not '{scenario}'.");
        int? databases = options.GetString("databases", "") is { Length: > 0 } ? options.GetInt("databases", 0) : null;
        var listening = options.GetString("max-listening", "16,0");
        var maxListening = listening.Split(',').Select(v =>
            int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"--max-listening must be whole numbers >= 0 separated by commas, not '{listening}'.")).ToArray();
        return new FleetSettings(
            scenarios,
            databases,
            options.GetInt("rate", 20),
            options.GetInt("hot-factor", 50),
            options.GetInt("seconds", 20),
            options.GetInt("messages", 50_000),
            options.GetInt("partitions", 32),
            maxListening,
            options.GetInt("settle-seconds", 15),
            options.GetInt("cpu-seconds", 10));
    }

    /// <summary>The options a scenario ran with, defaults included, as a command line.</summary>
    public string Effective(string scenario) => scenario switch
    {
        "fairness" => Fmt.Inv($"fleet --scenario fairness --databases {Databases ?? FairnessDatabases} --rate {Rate} --hot-factor {HotFactor} --seconds {Seconds} --partitions {Partitions}"),
        "scale" => Fmt.Inv($"fleet --scenario scale --messages {Messages} --databases {Databases ?? ScaleDatabases} --partitions {Partitions}"),
        _ => Fmt.Inv($"fleet --scenario connections --databases {Databases ?? ConnectionsDatabases} --max-listening {string.Join(",", MaxListening)} --settle-seconds {SettleSeconds} --cpu-seconds {CpuSeconds}"),
    };
}
