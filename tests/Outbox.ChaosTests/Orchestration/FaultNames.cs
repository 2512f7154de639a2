namespace Outbox.ChaosTests.Orchestration;

/// <summary>The command-line and summary names of the fault kinds.</summary>
public static class FaultNames
{
    public static string Of(FaultKind kind) => kind switch
    {
        FaultKind.KillRelay => "kill-relay",
        FaultKind.KillConsumer => "kill-consumer",
        FaultKind.BrokersDown => "brokers-down",
        FaultKind.PostgresRestart => "postgres-restart",
        FaultKind.ProduceErrors => "produce-errors",
        FaultKind.NetworkDelay => "network-delay",
        FaultKind.PauseRelay => "pause-relay",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
