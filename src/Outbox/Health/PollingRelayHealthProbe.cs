using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox;

/// <summary>
/// The polling relay runs and its heartbeat holds: it owns lanes, or it is a healthy standby (its share is zero
/// because more instances run than there are lanes). A heartbeat that failed long enough for the leases to be in
/// doubt means the relay drains nothing: Unhealthy.
/// </summary>
internal sealed class PollingRelayHealthProbe(IServiceProvider services) : IOutboxHealthProbe
{
    public Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken)
    {
        if (services.GetService(typeof(PollingRelay)) is not PollingRelay relay)
        {
            return Task.FromResult<HealthCheckResult?>(null);
        }

        var lanes = relay.Scheduler.Count;
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["relay.instance"] = relay.InstanceId, ["relay.lanes_owned"] = lanes };
        var result = relay.HeartbeatValid
            ? HealthCheckResult.Healthy(lanes > 0
                ? string.Create(CultureInfo.InvariantCulture, $"Polling relay {relay.InstanceId} owns {lanes} lane(s).")
                : $"Polling relay {relay.InstanceId} is a standby (no lane share).", data)
            : HealthCheckResult.Unhealthy($"Polling relay {relay.InstanceId} has no valid lease heartbeat: it drains nothing.", data: data);
        return Task.FromResult<HealthCheckResult?>(result);
    }
}
