using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Providers;

namespace Outbox.PostgreSql;

/// <summary>The CDC relay's own report (state, slot exists, <c>wal_status</c>, lost = Unhealthy) plus the lag threshold.</summary>
internal sealed class CdcHealthProbe(IServiceProvider services) : IOutboxHealthProbe
{
    public async Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken)
    {
        if (services.GetService(typeof(CdcRelayMonitor)) is not CdcRelayMonitor monitor)
        {
            return null;
        }

        var report = await monitor.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["cdc.state"] = report.State.ToString() };
        if (report.Slot is { } slot)
        {
            data["cdc.slot"] = slot.SlotName;
            data["cdc.wal_status"] = slot.WalStatus ?? "";
            data["cdc.lag_bytes"] = slot.LagBytes ?? 0;
        }

        var status = report.Status;
        var description = "CDC: " + report.Description;
        if (status == HealthStatus.Healthy && report.Slot?.LagBytes is { } lag && lag >= options.SlotLagDegradedBytes)
        {
            status = HealthStatus.Degraded;
            description += string.Create(CultureInfo.InvariantCulture, $" Degraded: lag above {options.SlotLagDegradedBytes} bytes.");
        }

        return new HealthCheckResult(status, description, data: data);
    }
}
