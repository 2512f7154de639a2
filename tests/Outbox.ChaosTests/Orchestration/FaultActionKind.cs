namespace Outbox.ChaosTests.Orchestration;

/// <summary>One step of a fault (a fault is a start step and, for most kinds, a recovery step).</summary>
public enum FaultActionKind
{
    KillRelay,
    StartRelay,
    KillConsumer,
    StartConsumer,
    BrokersDown,
    BrokersUp,
    PostgresRestart,
    ProduceErrors,
    SetRtt,
    ClearRtt,
    StopWriters,
    PauseRelay,
    ResumeRelay,
}
