using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Inbox;

namespace Outbox;

/// <summary>A consumer group is stuck when records wait and none finished for <see cref="OutboxHealthOptions.ConsumerStuckAfter"/>.</summary>
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
        foreach (var (group, waiting, since) in groups)
        {
            data["inbox." + group + ".waiting"] = waiting;
            data["inbox." + group + ".seconds_since_progress"] = Math.Round(since.TotalSeconds, 1);
            if (waiting > 0 && since > options.ConsumerStuckAfter)
            {
                stuck.Add(string.Create(CultureInfo.InvariantCulture, $"consumer group '{group}' has {waiting} record(s) waiting and finished none for {since.TotalSeconds:0} s"));
            }
        }

        return Task.FromResult<HealthCheckResult?>(stuck.Count == 0
            ? HealthCheckResult.Healthy($"{groups.Count} consumer group(s) making progress.", data)
            : HealthCheckResult.Unhealthy("Stuck: " + string.Join("; ", stuck) + ".", data: data));
    }
}
