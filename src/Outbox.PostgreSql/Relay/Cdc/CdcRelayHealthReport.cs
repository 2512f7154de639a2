using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Outbox.PostgreSql;

/// <summary>The result of <see cref="CdcRelayMonitor.CheckHealthAsync"/>.</summary>
public sealed class CdcRelayHealthReport
{
    /// <summary>Gets the overall health, in the health-check vocabulary of Microsoft.Extensions.Diagnostics.HealthChecks.</summary>
    public required HealthStatus Status { get; init; }

    /// <summary>Gets a sentence that says why.</summary>
    public required string Description { get; init; }

    /// <summary>Gets what the relay of this process is doing.</summary>
    public required CdcRelayState State { get; init; }

    /// <summary>Gets the slot, or <see langword="null"/> when the database could not be asked.</summary>
    public CdcSlotStatus? Slot { get; init; }

    /// <summary>Gets the last error of the relay, if any.</summary>
    public string? LastError { get; init; }
}
