namespace Outbox.Benchmarks.Infrastructure;

/// <summary>CPU seconds spent during a run, by consumer; <see cref="Other"/> is everything else on the machine.</summary>
internal sealed record CpuUsage(double WallSeconds, int Cores, double MachineBusy, double DotNet, double Librdkafka, double Postgres, double Broker = 0)
{
    /// <summary>CPU seconds of every other process (the per-process run times; see <see cref="CpuSnapshot"/>).</summary>
    public double Others { get; init; }

    public double Other => Others;

    /// <summary>CPU seconds of the run's own processes: this process (including the embedded broker) and PostgreSQL.</summary>
    public double Measured => DotNet + Librdkafka + Postgres + Broker;

    /// <summary>Cores' worth of CPU: seconds of CPU divided by seconds of wall time.</summary>
    public string Describe() => Fmt.Inv(
        $"wall {WallSeconds:0.00}s on {Cores} cores; CPU in cores: .NET {DotNet / WallSeconds:0.00}, librdkafka {Librdkafka / WallSeconds:0.00}, PostgreSQL {Postgres / WallSeconds:0.00}, embedded broker {Broker / WallSeconds:0.00}, other processes {Other / WallSeconds:0.00}, idle {Math.Max(0, Cores - ((Measured + Others) / WallSeconds)):0.00} (the machine's tick-sampled busy time: {MachineBusy / WallSeconds:0.00} cores)");
}
