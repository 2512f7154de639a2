using System.Text.Json.Nodes;

namespace Outbox.Benchmarks.Macro;

/// <summary>One mode of the <c>live</c> scenario.</summary>
internal sealed class LiveResult(
    LiveMode mode, string name, int rate, int eventsPerTransaction, int writers, int seconds, double transactionsPerSecond, double[] saveMs, double[] consumeMs,
    VerificationResult verification) : ScenarioResult
{
    public LiveMode Mode => mode;

    public string Name => name;

    public int Rate => rate;

    public int EventsPerTransaction => eventsPerTransaction;

    public double TransactionsPerSecond => transactionsPerSecond;

    public double EventsPerSecond => transactionsPerSecond * eventsPerTransaction;

    public double[] SaveMs => saveMs;

    public double ConsumeP50Ms => LatencyResult.Percentile(consumeMs, 50);

    public double ConsumeP99Ms => LatencyResult.Percentile(consumeMs, 99);

    public VerificationResult Verification => verification;

    /// <summary>Transactions committed in the database per event (writers, relay, monitoring).</summary>
    public double CommitsPerEvent { get; set; }

    private double Events => Cpu is null ? 0 : EventsPerSecond * Cpu.WallSeconds;

    /// <summary>
    /// CPU time per event of the run's processes (this process with the embedded broker, and PostgreSQL), in
    /// milliseconds: the scheduler's per-process run times, not the machine's tick-sampled busy time (see <see cref="CpuSnapshot"/>).
    /// </summary>
    public double CpuPerEventMs => PerEvent(Cpu?.Measured);

    /// <summary>The machine's tick-sampled busy time per event (reported beside, for comparison with older results).</summary>
    public double MachineBusyPerEventMs => PerEvent(Cpu?.MachineBusy);

    /// <summary>This process (writers, relay, consumer, librdkafka clients) without the embedded broker's threads.</summary>
    public double AppPerEventMs => PerEvent(Cpu is null ? null : Cpu.DotNet + Cpu.Librdkafka);

    public double PostgresPerEventMs => PerEvent(Cpu?.Postgres);

    public double BrokerPerEventMs => PerEvent(Cpu?.Broker);

    private double PerEvent(double? seconds) => seconds is { } s && Events > 0 ? s * 1000 / Events : double.NaN;

    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["scenario"] = "live",
            ["mode"] = name,
            ["rate"] = rate == 0 ? "closed-loop" : rate,
            ["events_per_tx"] = eventsPerTransaction,
            ["writers"] = writers,
            ["seconds"] = seconds,
            ["tx_per_s"] = Round(transactionsPerSecond),
            ["events_per_s"] = Round(EventsPerSecond),
            ["save_p50_ms"] = Round(LatencyResult.Percentile(saveMs, 50), 2),
            ["save_p99_ms"] = Round(LatencyResult.Percentile(saveMs, 99), 2),
            ["consume_p50_ms"] = mode.Publishes() ? Round(ConsumeP50Ms, 2) : null,
            ["consume_p99_ms"] = mode.Publishes() ? Round(ConsumeP99Ms, 2) : null,
            ["cpu_per_event_ms"] = Round(CpuPerEventMs, 3),
            ["machine_busy_per_event_ms"] = Round(MachineBusyPerEventMs, 3),
            ["app_per_event_ms"] = Round(AppPerEventMs, 3),
            ["postgres_per_event_ms"] = Round(PostgresPerEventMs, 3),
            ["broker_per_event_ms"] = Round(BrokerPerEventMs, 3),
            ["pg_commits_per_event"] = Round(CommitsPerEvent, 2),
            ["other_processes_cores"] = Cpu is null ? 0 : Round(Cpu.Other / Cpu.WallSeconds, 2),
        };
        AddVerification(json, verification);
        return json;
    }
}
