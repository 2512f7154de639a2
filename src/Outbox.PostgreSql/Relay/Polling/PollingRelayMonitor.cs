using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Relay;

namespace Outbox.PostgreSql;

/// <summary>
/// What the polling relay of this process is doing: resolve it from the service provider after
/// <c>AddPollingRelay()</c> (a singleton), for example from a dashboard or a health check of your own. The health checks
/// added by <c>AddOutboxHealthChecks()</c> use it already.
/// </summary>
public sealed class PollingRelayMonitor
{
    private readonly PollingRelay _relay;

    internal PollingRelayMonitor(PollingRelay relay) => _relay = relay;

    /// <summary>Gets the id this relay instance holds its lane leases under (also in its log lines and lease rows).</summary>
    public string InstanceId => _relay.InstanceId;

    /// <summary>Gets the lanes this instance holds a lease on now, in ascending order (empty while it is a standby).</summary>
    public IReadOnlyList<int> OwnedLanes
    {
        get
        {
            var lanes = _relay.Scheduler.Leases().Select(l => l.Lane).ToArray();
            Array.Sort(lanes);
            return lanes;
        }
    }

    /// <summary>
    /// Gets whether the instance's lease heartbeat is valid: while it is not (the database could not be reached for longer
    /// than the lease), the relay publishes nothing, because another instance may own its lanes.
    /// </summary>
    public bool HeartbeatValid => _relay.HeartbeatValid;

    /// <summary>Gets how many events the broker acknowledged from this instance since the process started.</summary>
    public long PublishedCount => _relay.Published;

    /// <summary>Gets how many keys this instance parked since the process started (see the operations guide, "Parked keys").</summary>
    public long ParkedCount => _relay.Parked;

    /// <summary>
    /// Checks this instance: unhealthy while its lease heartbeat is not valid, healthy otherwise (a standby that owns no
    /// lane is healthy). The backlog and parked keys are checked by <c>AddOutboxHealthChecks()</c>, not here.
    /// </summary>
    /// <returns>The result, with the instance id and the number of lanes owned in its data.</returns>
    public HealthCheckResult CheckHealth()
    {
        var lanes = _relay.Scheduler.Count;
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["relay.instance"] = InstanceId, ["relay.lanes_owned"] = lanes };
        if (!HeartbeatValid)
        {
            return HealthCheckResult.Unhealthy($"Polling relay {InstanceId} has no valid lease heartbeat: it drains nothing.", data: data);
        }

        return HealthCheckResult.Healthy(
            lanes > 0
                ? string.Create(CultureInfo.InvariantCulture, $"Polling relay {InstanceId} owns {lanes} lane(s).")
                : $"Polling relay {InstanceId} is a standby (no lane share).",
            data);
    }
}
