using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Inbox;
using Outbox.Providers;

namespace Outbox;

/// <summary>
/// A consumer group is stuck (Unhealthy) when one of its partitions has records waiting and finished none for
/// <see cref="OutboxHealthOptions.ConsumerStuckAfter"/>, even while its other partitions progress. Parked keys in the
/// partitions this process owns make it Degraded.
/// </summary>
internal sealed class InboxConsumerHealthProbe(InboxProgress progress) : IOutboxHealthProbe
{
    public Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken)
    {
        var groups = progress.Snapshot();
        if (groups.Count == 0)
        {
            return Task.FromResult<HealthCheckResult?>(null);
        }

        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var stuck = new List<string>();
        var parked = new List<string>();
        foreach (var group in groups)
        {
            var name = group.ConsumerGroup;
            var waitingPartitions = group.Partitions.Where(p => p.Waiting > 0).ToList();
            var since = waitingPartitions.Count == 0 ? group.SinceProgress : waitingPartitions.Max(p => p.SinceProgress);
            data["inbox." + name + ".waiting"] = group.Waiting;
            data["inbox." + name + ".seconds_since_progress"] = Math.Round(since.TotalSeconds, 1);
            data["inbox." + name + ".parked_keys"] = group.ParkedKeys;
            foreach (var partition in waitingPartitions.Where(p => p.SinceProgress > options.ConsumerStuckAfter))
            {
                stuck.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"consumer group '{name}' has {partition.Waiting} record(s) waiting on {partition.Topic}[{partition.Partition}] and finished none there for {partition.SinceProgress.TotalSeconds:0} s"));
            }

            if (group.ParkedKeys > 0)
            {
                parked.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"consumer group '{name}' has {group.ParkedKeys} parked key(s), the oldest parked {group.OldestParkedAge?.TotalSeconds ?? 0:0} s ago"));
            }
        }

        if (stuck.Count > 0)
        {
            return Task.FromResult<HealthCheckResult?>(HealthCheckResult.Unhealthy("Stuck: " + string.Join("; ", stuck.Concat(parked)) + ".", data: data));
        }

        return Task.FromResult<HealthCheckResult?>(parked.Count > 0
            ? HealthCheckResult.Degraded("Parked: " + string.Join("; ", parked) + " (list them with InboxParking or dotnet outbox parked list).", data: data)
            : HealthCheckResult.Healthy($"{groups.Count} consumer group(s) making progress.", data));
    }
}
