using System.Text.Json.Nodes;

namespace Outbox.Benchmarks.Macro;

internal sealed class BaselinesResult(int messages, int writers, int partitions, BaselineResult copy, BaselineResult claimDelete, BaselineResult decode, BaselineResult produce, VerificationResult produceVerification) : ScenarioResult
{
    public int Messages => messages;

    public int Writers => writers;

    public BaselineResult CopyInsert => copy;

    public BaselineResult ClaimDelete => claimDelete;

    public BaselineResult Decode => decode;

    public BaselineResult Produce => produce;

    public VerificationResult ProduceVerification => produceVerification;

    public override JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["scenario"] = "baselines",
            ["messages"] = messages,
            ["writers"] = writers,
            ["partitions"] = partitions,
            ["copy_insert_per_s"] = Round(copy.PerSecond),
            ["claim_delete_per_s"] = Round(claimDelete.PerSecond),
            ["claim_delete_workers"] = claimDelete.Workers,
            ["pgoutput_decode_per_s"] = Round(decode.PerSecond),
            ["kafka_produce_per_s"] = Round(produce.PerSecond),
        };
        AddVerification(json, produceVerification);
        return json;
    }
}
