using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// One run of the fairness scenario: the target and achieved rates, and the commit-to-consume latencies (milliseconds,
/// sorted) of the cold databases' and the hot database's measured events; for the cold ones also commit to the relay's
/// publish call returning with the ack, commit to the relay handing the event to the publisher, and that hand-over to the ack.
/// </summary>
internal sealed record FleetFairnessRun(
    string Label,
    int Databases,
    int ColdRate,
    int HotRate,
    double ColdAchievedPerDatabase,
    double HotAchieved,
    double[] ColdMs,
    double[] HotMs,
    double[] ColdAckMs,
    double[] ColdHandOverMs,
    double[] ColdHandOverToAckMs,
    double WorstColdDatabaseP99Ms,
    string WorstColdDatabase,
    VerificationResult Verification,
    CpuUsage Cpu,
    double ReadySeconds)
{
    public double ColdP(double p) => LatencyResult.Percentile(ColdMs, p);

    public double HotP(double p) => LatencyResult.Percentile(HotMs, p);
}
