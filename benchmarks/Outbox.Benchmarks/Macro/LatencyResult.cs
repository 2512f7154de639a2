using System.Text.Json.Nodes;

namespace Outbox.Benchmarks.Macro;

internal sealed class LatencyResult(RelayKind relay, int rate, int seconds, double achievedRate, double[] latenciesMs, double[] consumerLatenciesMs, VerificationResult verification) : ScenarioResult
{
    public RelayKind Relay => relay;

    public int Rate => rate;

    public double AchievedRate => achievedRate;

    /// <summary>Commit to the relay's acknowledgement from Kafka, in milliseconds, sorted.</summary>
    public double[] LatenciesMs => latenciesMs;

    /// <summary>Commit to a consumer of the topic receiving the record, in milliseconds, sorted.</summary>
    public double[] ConsumerLatenciesMs => consumerLatenciesMs;

    public VerificationResult Verification => verification;

    /// <summary>For CDC: commit to arrival in a raw pgoutput decoder, in milliseconds, sorted (empty for polling).</summary>
    public double[] BaselineLatenciesMs { get; init; } = [];

    /// <summary>The producer's linger.ms when the run overrode the library's default (5 ms; 1 ms with the CDC relay).</summary>
    public int? LingerMs { get; init; }

    public int? PoisonEvery { get; init; }

    public int PoisonEvents { get; init; }

    public int HeldEvents { get; init; }

    public int Keys { get; init; }

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["scenario"] = "latency",
            ["relay"] = relay.ToString().ToLowerInvariant(),
            ["rate"] = rate,
            ["p50_ms"] = Round(Percentile(latenciesMs, 50), 2),
            ["p95_ms"] = Round(Percentile(latenciesMs, 95), 2),
            ["p99_ms"] = Round(Percentile(latenciesMs, 99), 2),
            ["max_ms"] = Round(Percentile(latenciesMs, 100), 2),
            ["lost"] = verification.Lost,
            ["duplicates"] = verification.Duplicates,
            ["order_violations"] = verification.OrderViolations,
            ["seconds"] = seconds,
            ["achieved_rate"] = Round(achievedRate),
            ["samples"] = latenciesMs.Length,
            ["consumer_p50_ms"] = Round(Percentile(consumerLatenciesMs, 50), 2),
            ["consumer_p99_ms"] = Round(Percentile(consumerLatenciesMs, 99), 2),
        };
        if (BaselineLatenciesMs.Length > 0)
        {
            json["baseline"] = "pgoutput_receive";
            json["baseline_p50_ms"] = Round(Percentile(BaselineLatenciesMs, 50), 2);
            json["baseline_p99_ms"] = Round(Percentile(BaselineLatenciesMs, 99), 2);
            json["baseline_max_ms"] = Round(Percentile(BaselineLatenciesMs, 100), 2);
        }

        if (PoisonEvery is { } every)
        {
            json["poison_every"] = every;
            json["poison_events"] = PoisonEvents;
            json["held_events"] = HeldEvents;
            json["keys"] = Keys;
        }

        if (LingerMs is { } linger)
        {
            json["linger_ms"] = linger;
        }

        return json;
    }
}
