namespace Outbox.ChaosTests.Orchestration;

/// <summary>The faults a run injects.</summary>
public enum FaultKind
{
    /// <summary>SIGKILL a relay process (the active one in a CDC run) and start it again after a while.</summary>
    KillRelay,

    /// <summary>SIGKILL a consumer process and start it again after a while.</summary>
    KillConsumer,

    /// <summary>Every Kafka broker down for several seconds.</summary>
    BrokersDown,

    /// <summary>A fast PostgreSQL restart (<c>pg_ctl -m fast</c>): every connection is closed.</summary>
    PostgresRestart,

    /// <summary>The next produce requests (of any producer) fail with injected errors.</summary>
    ProduceErrors,

    /// <summary>Added round-trip time on one or all brokers for a few seconds.</summary>
    NetworkDelay,

    /// <summary>
    /// SIGSTOP a polling relay process for longer than its lease (another relay takes its lanes over), then SIGCONT: a
    /// zombie that wakes up with a batch it claimed before the pause. Polling runs only.
    /// </summary>
    PauseRelay,
}
