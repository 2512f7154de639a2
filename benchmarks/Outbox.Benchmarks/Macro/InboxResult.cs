using System.Text.Json.Nodes;

namespace Outbox.Benchmarks.Macro;

internal sealed class InboxResult(int messages, int batch, int partitions, double seconds, BaselineResult baseline, long inboxRows, long invocations, long orderViolations) : ScenarioResult
{
    public int Messages => messages;

    public int Batch => batch;

    public double Seconds => seconds;

    public double PerSecond => messages / seconds;

    public BaselineResult Baseline => baseline;

    public double Ratio => PerSecond / baseline.PerSecond;

    public long Lost => messages - inboxRows;

    public long DuplicateInvocations => invocations - inboxRows;

    public long OrderViolations => orderViolations;

    public override JsonObject ToJson() => new()
    {
        ["scenario"] = "inbox",
        ["handler"] = "no-op",
        ["messages"] = messages,
        ["batch"] = batch,
        ["msgs_per_s"] = Round(PerSecond),
        ["baseline"] = baseline.Name,
        ["baseline_per_s"] = Round(baseline.PerSecond),
        ["ratio"] = Round(Ratio, 3),
        ["lost"] = Lost,
        ["duplicates"] = DuplicateInvocations,
        ["order_violations"] = orderViolations,
        ["seconds"] = Round(seconds, 3),
        ["partitions"] = partitions,
    };
}
