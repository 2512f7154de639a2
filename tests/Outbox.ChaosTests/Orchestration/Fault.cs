namespace Outbox.ChaosTests.Orchestration;

/// <summary>One fault of a plan and its timed steps.</summary>
public sealed record Fault(int Number, FaultKind Kind, IReadOnlyList<FaultAction> Actions)
{
    public TimeSpan At => Actions[0].At;
}
