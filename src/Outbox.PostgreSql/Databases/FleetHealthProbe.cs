using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Providers;

namespace Outbox.PostgreSql.Databases;

/// <summary>The health of an outbox over many databases: <see cref="OutboxFleetMonitor.CheckHealth"/>.</summary>
internal sealed class FleetHealthProbe(OutboxFleetMonitor monitor) : IOutboxHealthProbe
{
    public Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<HealthCheckResult?>(monitor.CheckHealth());
}
