using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// One drain of the scale scenario: <see cref="Events"/> preloaded over <see cref="Databases"/> databases, drained by one
/// relay process. <see cref="Seconds"/> runs from the host's start to the last acknowledgement (as <c>throughput</c>);
/// <see cref="FirstAckSeconds"/> is when the first event was acknowledged (the fleet's start-up, schemas ensured, leases taken).
/// </summary>
internal sealed record FleetScaleCase(
    int Databases,
    int Events,
    double Seconds,
    double StartSeconds,
    double FirstAckSeconds,
    long RowsLeft,
    VerificationResult Verification,
    CpuUsage Cpu)
{
    public double PerSecond => Events / Seconds;

    /// <summary>Events per second from the first acknowledgement to the last: the drain without the start-up.</summary>
    public double PerSecondAfterFirstAck => Events / Math.Max(1e-6, Seconds - FirstAckSeconds);
}
