using System.Globalization;
using Confluent.Kafka;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// One timed step of a fault plan. <see cref="Target"/> is a 1-based process or broker number; 0 means "the active CDC
/// relay" for <see cref="FaultActionKind.KillRelay"/> in a CDC run (the paired start restarts that one) and "every
/// broker" for the RTT steps.
/// </summary>
public sealed record FaultAction(TimeSpan At, FaultActionKind Kind, int Fault, int Target = 0, int Milliseconds = 0, IReadOnlyList<ErrorCode>? Errors = null)
{
    /// <summary>Gets a value indicating whether this step starts a fault (rather than ending one).</summary>
    public bool StartsFault => Kind is FaultActionKind.KillRelay or FaultActionKind.KillConsumer or FaultActionKind.BrokersDown
        or FaultActionKind.PostgresRestart or FaultActionKind.ProduceErrors or FaultActionKind.SetRtt or FaultActionKind.PauseRelay;

    public override string ToString()
    {
        var target = Target == 0 ? (Kind is FaultActionKind.SetRtt or FaultActionKind.ClearRtt ? " all brokers" : Kind is FaultActionKind.KillRelay or FaultActionKind.StartRelay ? " active" : "") : " #" + Target.ToString(CultureInfo.InvariantCulture);
        var detail = Kind switch
        {
            FaultActionKind.SetRtt => " " + Milliseconds.ToString(CultureInfo.InvariantCulture) + " ms",
            FaultActionKind.ProduceErrors => " [" + string.Join(",", Errors ?? []) + "]",
            _ => "",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{At.TotalSeconds,6:0.0}s {Kind}{target}{detail}");
    }
}
