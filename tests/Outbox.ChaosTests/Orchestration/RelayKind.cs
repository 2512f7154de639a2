namespace Outbox.ChaosTests.Orchestration;

/// <summary>Which relay a chaos run uses.</summary>
public enum RelayKind
{
    /// <summary>Three polling relay processes sharing the lanes.</summary>
    Polling,

    /// <summary>One CDC relay streaming the slot and a standby.</summary>
    Cdc,
}
