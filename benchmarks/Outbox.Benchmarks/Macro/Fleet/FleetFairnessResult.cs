using System.Text.Json.Nodes;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary><c>fleet --scenario fairness</c>: the baseline run (every database at the cold rate) and the run with one hot database.</summary>
internal sealed class FleetFairnessResult(int databases, int rate, int hotFactor, int seconds, FleetFairnessRun equal, FleetFairnessRun hot) : ScenarioResult, IFleetResult
{
    /// <summary>The goal: the cold databases' p99 with a hot neighbour at most this many times their p99 without one.</summary>
    public const double Goal = 2.0;

    public FleetFairnessRun Equal => equal;

    public FleetFairnessRun Hot => hot;

    /// <summary>Cold p99 with the hot database over cold p99 with every database equal.</summary>
    public double ColdP99Ratio => hot.ColdP(99) / equal.ColdP(99);

    public string Title => "fairness";

    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["scenario"] = "fleet-fairness",
            ["databases"] = databases,
            ["cold_rate"] = rate,
            ["hot_factor"] = hotFactor,
            ["seconds"] = seconds,
            ["cold_p99_ratio"] = Round(ColdP99Ratio, 2),
            ["goal"] = Goal,
        };
        foreach (var (name, run) in new[] { ("equal", equal), ("hot", hot) })
        {
            json[name] = new JsonObject
            {
                ["hot_rate"] = run.HotRate,
                ["hot_achieved"] = Round(run.HotAchieved),
                ["cold_achieved_per_db"] = Round(run.ColdAchievedPerDatabase, 2),
                ["cold_p50_ms"] = Round(run.ColdP(50), 2),
                ["cold_p95_ms"] = Round(run.ColdP(95), 2),
                ["cold_p99_ms"] = Round(run.ColdP(99), 2),
                ["cold_max_ms"] = Round(run.ColdP(100), 2),
                ["cold_worst_db_p99_ms"] = Round(run.WorstColdDatabaseP99Ms, 2),
                ["cold_ack_p99_ms"] = Round(LatencyResult.Percentile(run.ColdAckMs, 99), 2),
                ["cold_hand_over_p99_ms"] = Round(LatencyResult.Percentile(run.ColdHandOverMs, 99), 2),
                ["cold_hand_over_to_ack_p99_ms"] = Round(LatencyResult.Percentile(run.ColdHandOverToAckMs, 99), 2),
                ["cold_samples"] = run.ColdMs.Length,
                ["hot_p50_ms"] = Round(run.HotP(50), 2),
                ["hot_p99_ms"] = Round(run.HotP(99), 2),
                ["hot_samples"] = run.HotMs.Length,
                ["lost"] = run.Verification.Lost,
                ["duplicates"] = run.Verification.Duplicates,
                ["order_violations"] = run.Verification.OrderViolations,
                ["other_processes_cores"] = Round(run.Cpu.Other / run.Cpu.WallSeconds, 2),
            };
        }

        return json;
    }

    public IEnumerable<string> Report()
    {
        var table = new MarkdownTable(
            "run", "hot db: target / achieved tx/s", "each cold db: target / achieved tx/s", "cold p50", "cold p95", "cold p99", "cold max", "worst cold db p99",
            "cold p99: commit to ack (commit to hand-over / hand-over to ack)", "hot p50", "hot p99", "cold / hot samples", "lost / dup / order", "CPU cores: app, PostgreSQL, broker, other processes (machine busy, tick-sampled)");
        foreach (var run in new[] { equal, hot })
        {
            table.Add(
                run.Label,
                Fmt.Inv($"{run.HotRate:N0} / {run.HotAchieved:N0}"),
                Fmt.Inv($"{run.ColdRate} / {run.ColdAchievedPerDatabase:0.0}"),
                Ms(run.ColdP(50)),
                Ms(run.ColdP(95)),
                Ms(run.ColdP(99)),
                Ms(run.ColdP(100)),
                Ms(run.WorstColdDatabaseP99Ms) + " (" + run.WorstColdDatabase + ")",
                Ms(LatencyResult.Percentile(run.ColdAckMs, 99)) + " (" + Ms(LatencyResult.Percentile(run.ColdHandOverMs, 99)) + " / " + Ms(LatencyResult.Percentile(run.ColdHandOverToAckMs, 99)) + ")",
                Ms(run.HotP(50)),
                Ms(run.HotP(99)),
                Fmt.Inv($"{run.ColdMs.Length:N0} / {run.HotMs.Length:N0}"),
                Fmt.Inv($"{run.Verification.Lost} / {run.Verification.Duplicates} / {run.Verification.OrderViolations}"),
                Fmt.Inv($"{(run.Cpu.DotNet + run.Cpu.Librdkafka) / run.Cpu.WallSeconds:0.00}, {run.Cpu.Postgres / run.Cpu.WallSeconds:0.00}, {run.Cpu.Broker / run.Cpu.WallSeconds:0.00}, {run.Cpu.Other / run.Cpu.WallSeconds:0.00} ({run.Cpu.MachineBusy / run.Cpu.WallSeconds:0.00})"));
        }

        foreach (var line in table.Lines())
        {
            yield return line;
        }

        yield return "";
        yield return Fmt.Inv($"Cold p99 with the hot database / cold p99 with every database equal: {hot.ColdP(99):0.0} / {equal.ColdP(99):0.0} ms = {ColdP99Ratio:0.00}x (goal <= {Goal:0.#}x: {(ColdP99Ratio <= Goal ? "met" : "missed")}).");
        yield return Fmt.Inv($"{databases} databases on one cluster, one relay process over all of them (library defaults), {seconds}s measured after 3s of warm-up; latency from the writer's COMMIT returning to the consumer receiving the record; \"ack\" is the relay's publish call returning with Kafka's ack, \"hand-over\" the relay handing the claimed event to the publisher (one producer for every database).");
    }

    private static string Ms(double value) => double.IsNaN(value) ? "-" : Fmt.Inv($"{value:0.0} ms");
}
