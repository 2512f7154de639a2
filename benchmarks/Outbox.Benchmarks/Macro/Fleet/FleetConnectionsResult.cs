using System.Text.Json.Nodes;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary><c>fleet --scenario connections</c>: what an idle relay process over many databases holds, per <c>MaxListeningDatabases</c>.</summary>
internal sealed class FleetConnectionsResult(int databases, double createSeconds, int settleSeconds, int cpuSeconds, IReadOnlyList<FleetConnectionsRun> runs) : ScenarioResult, IFleetResult
{
    public IReadOnlyList<FleetConnectionsRun> Runs => runs;

    public string Title => "connections";

    public override JsonObject ToJson()
    {
        var array = new JsonArray();
        foreach (var run in runs)
        {
            array.Add(new JsonObject
            {
                ["max_listening"] = run.MaxListeningDatabases,
                ["start_s"] = Round(run.StartSeconds, 2),
                ["ready_s"] = Round(run.ReadySeconds, 2),
                ["connections"] = run.Settled.Total,
                ["idle"] = run.Settled.Idle,
                ["active"] = run.Settled.Active,
                ["idle_in_transaction"] = run.Settled.IdleInTransaction,
                ["listen"] = run.Settled.Listening,
                ["databases_with_connections"] = run.Settled.Databases,
                ["most_in_one_database"] = run.Settled.MostInOneDatabase,
                ["latest_statement_age_median_s"] = Round(run.Settled.MedianIdleSeconds, 2),
                ["latest_statement_age_max_s"] = Round(run.Settled.MaxIdleSeconds, 2),
                ["connections_after_cpu_window"] = run.AfterCpuWindow.Total,
                ["connections_after_stop"] = run.AfterStop,
                ["relay_process_cores"] = Round((run.Cpu.DotNet + run.Cpu.Librdkafka) / run.Cpu.WallSeconds, 3),
                ["postgres_cores"] = Round(run.Cpu.Postgres / run.Cpu.WallSeconds, 3),
                ["broker_cores"] = Round(run.Cpu.Broker / run.Cpu.WallSeconds, 3),
                ["other_processes_cores"] = Round(run.Cpu.Other / run.Cpu.WallSeconds, 2),
                ["pg_tx_per_s"] = Round(run.PostgresTransactionsPerSecond),
                ["working_set_mib"] = Round(run.WorkingSetMiB),
            });
        }

        return new JsonObject
        {
            ["scenario"] = "fleet-connections",
            ["databases"] = databases,
            ["create_databases_s"] = Round(createSeconds, 2),
            ["settle_s"] = settleSeconds,
            ["cpu_window_s"] = cpuSeconds,
            ["runs"] = array,
        };
    }

    public IEnumerable<string> Report()
    {
        var table = new MarkdownTable(
            "MaxListeningDatabases", "StartAsync", "all lanes leased", "connections held", "idle / active / idle in tx", "LISTEN", "databases with a connection (most in one)", "per database, since its latest statement: median / max",
            Fmt.Inv($"held {cpuSeconds}s later"), "relay process CPU (cores)", "PostgreSQL CPU (cores)", "PG transactions/s", "working set", "left after stop");
        foreach (var run in runs)
        {
            table.Add(
                Fmt.Inv($"{run.MaxListeningDatabases}"),
                Fmt.Inv($"{run.StartSeconds:0.00}s"),
                Fmt.Inv($"{run.ReadySeconds:0.00}s"),
                Fmt.Inv($"{run.Settled.Total}"),
                Fmt.Inv($"{run.Settled.Idle} / {run.Settled.Active} / {run.Settled.IdleInTransaction}"),
                Fmt.Inv($"{run.Settled.Listening}"),
                Fmt.Inv($"{run.Settled.Databases} ({run.Settled.MostInOneDatabase})"),
                Fmt.Inv($"{run.Settled.MedianIdleSeconds:0.00}s / {run.Settled.MaxIdleSeconds:0.00}s"),
                Fmt.Inv($"{run.AfterCpuWindow.Total}"),
                Fmt.Inv($"{(run.Cpu.DotNet + run.Cpu.Librdkafka) / run.Cpu.WallSeconds:0.000}"),
                Fmt.Inv($"{run.Cpu.Postgres / run.Cpu.WallSeconds:0.000}"),
                Fmt.Inv($"{run.PostgresTransactionsPerSecond:N0}"),
                Fmt.Inv($"{run.WorkingSetMiB:N0} MiB"),
                Fmt.Inv($"{run.AfterStop}"));
        }

        foreach (var line in table.Lines())
        {
            yield return line;
        }

        yield return "";
        yield return Fmt.Inv($"{databases} databases on one cluster (max_connections 1000), created in {createSeconds:0.00}s ({FleetDatabases.Parallelism} at a time). One relay process over all of them (library defaults, schema ensured at start), idle: connections counted {settleSeconds}s after every lane was leased, CPU over the next {cpuSeconds}s (relay process: .NET and librdkafka client threads of this process, the embedded broker's threads excluded). Runs one after the other on the same databases (the later ones find the schema in place).");
        foreach (var run in runs)
        {
            yield return Fmt.Inv($"MaxListeningDatabases {run.MaxListeningDatabases}: embedded broker {run.Cpu.Broker / run.Cpu.WallSeconds:0.000} cores, other processes {run.Cpu.Other / run.Cpu.WallSeconds:0.00} cores (machine busy, tick-sampled: {run.Cpu.MachineBusy / run.Cpu.WallSeconds:0.00} of {run.Cpu.Cores} cores); held connections by last statement: {string.Join("; ", run.ByStatement)}");
        }
    }
}
