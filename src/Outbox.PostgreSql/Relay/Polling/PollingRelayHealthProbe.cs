using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql;

/// <summary>
/// The polling relay runs and its heartbeat holds: it owns lanes, or it is a healthy standby (its share is zero
/// because more instances run than there are lanes). A heartbeat that failed long enough for the leases to be in
/// doubt means the relay drains nothing: Unhealthy. The decision is <see cref="PollingRelayMonitor.CheckHealth"/>.
/// </summary>
internal sealed class PollingRelayHealthProbe(IServiceProvider services) : IOutboxHealthProbe
{
    public Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken) =>
        Task.FromResult(!OutboxFleetRegistration.In(services) && services.GetService(typeof(PollingRelayMonitor)) is PollingRelayMonitor monitor
            ? monitor.CheckHealth()
            : (HealthCheckResult?)null);
}
