namespace Outbox.PostgreSql;

/// <summary>The health of the CDC relay, in the three levels health checks use.</summary>
public enum CdcHealthStatus
{
    /// <summary>Unhealthy: the slot is lost or missing, or the relay is faulted; events are not flowing and need an operator.</summary>
    Unhealthy,

    /// <summary>Degraded: the relay is retrying after failures, or the slot is about to be invalidated.</summary>
    Degraded,

    /// <summary>Healthy.</summary>
    Healthy,
}
