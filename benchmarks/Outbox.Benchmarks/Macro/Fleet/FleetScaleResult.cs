using System.Text.Json.Nodes;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary><c>fleet --scenario scale</c>: the same events drained from one database and from many, by one relay process.</summary>
internal sealed class FleetScaleResult(int messages, FleetScaleCase one, FleetScaleCase many) : ScenarioResult, IFleetResult
{
    public FleetScaleCase One => one;

    public FleetScaleCase Many => many;

    /// <summary>Events per second over many databases / over one.</summary>
    public double Ratio => many.PerSecond / one.PerSecond;

    public string Title => "scale";

    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["scenario"] = "fleet-scale",
            ["messages"] = messages,
            ["ratio"] = Round(Ratio, 3),
        };
        foreach (var (name, c) in new[] { ("one", one), ("many", many) })
        {
            json[name] = new JsonObject
            {
                ["databases"] = c.Databases,
                ["msgs_per_s"] = Round(c.PerSecond),
                ["seconds"] = Round(c.Seconds, 3),
                ["first_ack_s"] = Round(c.FirstAckSeconds, 3),
                ["msgs_per_s_after_first_ack"] = Round(c.PerSecondAfterFirstAck),
                ["rows_left"] = c.RowsLeft,
                ["lost"] = c.Verification.Lost,
                ["duplicates"] = c.Verification.Duplicates,
                ["order_violations"] = c.Verification.OrderViolations,
                ["other_processes_cores"] = Round(c.Cpu.Other / c.Cpu.WallSeconds, 2),
            };
        }

        return json;
    }

    public IEnumerable<string> Report()
    {
        var table = new MarkdownTable(
            "databases", "events (per database)", "drain s", "events/s", "StartAsync returned after", "first ack after", "events/s after the first ack",
            "rows left", "lost / dup / order", "CPU cores: app, PostgreSQL, broker, other processes (machine busy, tick-sampled)");
        foreach (var c in new[] { one, many })
        {
            table.Add(
                Fmt.Inv($"{c.Databases}"),
                Fmt.Inv($"{c.Events:N0} ({c.Events / c.Databases:N0})"),
                Fmt.Inv($"{c.Seconds:0.00}"),
                Fmt.Rate(c.PerSecond),
                Fmt.Inv($"{c.StartSeconds:0.00}s"),
                Fmt.Inv($"{c.FirstAckSeconds:0.00}s"),
                Fmt.Rate(c.PerSecondAfterFirstAck),
                Fmt.Inv($"{c.RowsLeft}"),
                Fmt.Inv($"{c.Verification.Lost} / {c.Verification.Duplicates} / {c.Verification.OrderViolations}"),
                Fmt.Inv($"{(c.Cpu.DotNet + c.Cpu.Librdkafka) / c.Cpu.WallSeconds:0.00}, {c.Cpu.Postgres / c.Cpu.WallSeconds:0.00}, {c.Cpu.Broker / c.Cpu.WallSeconds:0.00}, {c.Cpu.Other / c.Cpu.WallSeconds:0.00} ({c.Cpu.MachineBusy / c.Cpu.WallSeconds:0.00})"));
        }

        foreach (var line in table.Lines())
        {
            yield return line;
        }

        yield return "";
        yield return Fmt.Inv($"Drain rate over {many.Databases} databases / over 1: {Fmt.Rate(many.PerSecond)} / {Fmt.Rate(one.PerSecond)} events/s = {Ratio:0.00}x (after the first ack: {many.PerSecondAfterFirstAck / one.PerSecondAfterFirstAck:0.00}x).");
        yield return "Events preloaded with OutboxWriter.EnqueueBatchAsync in 1,000-row transactions and vacuumed (not timed); timed from the relay host's StartAsync (schemas ensured, pools opened, leases taken) to the last event acknowledged by Kafka, as in `throughput`. A short warm-up drain (not reported) ran first in the same process.";
    }
}
