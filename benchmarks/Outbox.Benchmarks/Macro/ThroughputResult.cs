using System.Text.Json.Nodes;

namespace Outbox.Benchmarks.Macro;

internal sealed class ThroughputResult(RelayKind relay, int messages, int writers, int partitions, double seconds, BaselineResult baseline, VerificationResult verification) : ScenarioResult
{
    public RelayKind Relay => relay;

    public int Messages => messages;

    public int Writers => writers;

    public double Seconds => seconds;

    public double PerSecond => messages / seconds;

    public BaselineResult Baseline => baseline;

    public double Ratio => PerSecond / baseline.PerSecond;

    public VerificationResult Verification => verification;

    public AckRecorder? Acks { get; init; }

    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["scenario"] = "throughput",
            ["relay"] = relay.ToString().ToLowerInvariant(),
            ["messages"] = messages,
            ["writers"] = writers,
            ["msgs_per_s"] = Round(PerSecond),
            ["baseline"] = baseline.Name,
            ["baseline_per_s"] = Round(baseline.PerSecond),
            ["ratio"] = Round(Ratio, 3),
        };
        AddVerification(json, verification);
        json["seconds"] = Round(seconds, 3);
        json["partitions"] = partitions;
        return json;
    }
}
