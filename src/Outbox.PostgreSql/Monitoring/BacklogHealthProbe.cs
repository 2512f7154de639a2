using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Providers;

namespace Outbox.PostgreSql;

/// <summary>The oldest pending row is younger than the thresholds (a fresh bounded reading per check).</summary>
internal sealed class BacklogHealthProbe(OutboxBacklogMonitor monitor, TimeProvider timeProvider) : IOutboxHealthProbe
{
    public async Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken)
    {
        var snapshot = await monitor.SampleAsync(cancellationToken).ConfigureAwait(false);
        var age = snapshot.OldestAge(timeProvider.GetUtcNow());
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["outbox.pending"] = snapshot.Pending,
            ["outbox.oldest_pending_age_seconds"] = age.TotalSeconds,
        };
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{(snapshot.Estimated ? "About " : "")}{snapshot.Pending} pending row(s), the oldest {age.TotalSeconds:0.#} s old.");
        return age >= options.PendingAgeUnhealthy
            ? HealthCheckResult.Unhealthy(text + string.Create(CultureInfo.InvariantCulture, $" Unhealthy above {options.PendingAgeUnhealthy.TotalSeconds:0.#} s."), data: data)
            : age >= options.PendingAgeDegraded
                ? HealthCheckResult.Degraded(text + string.Create(CultureInfo.InvariantCulture, $" Degraded above {options.PendingAgeDegraded.TotalSeconds:0.#} s."), data: data)
                : HealthCheckResult.Healthy(text, data);
    }
}
