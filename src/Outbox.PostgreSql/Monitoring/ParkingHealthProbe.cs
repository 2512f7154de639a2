using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.Providers;

namespace Outbox.PostgreSql;

/// <summary>Parked keys degrade the outbox health (their events wait for an operator; every other key flows).</summary>
internal sealed class ParkingHealthProbe(OutboxBacklogMonitor monitor, TimeProvider timeProvider) : IOutboxHealthProbe
{
    public async Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken)
    {
        var snapshot = await monitor.SampleAsync(cancellationToken).ConfigureAwait(false);
        var age = snapshot.OldestParkedAge(timeProvider.GetUtcNow());
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["outbox.parked_keys"] = snapshot.ParkedKeys,
            ["outbox.retrying_keys"] = snapshot.RetryingKeys,
            ["outbox.oldest_parked_age_seconds"] = age.TotalSeconds,
        };
        if (snapshot.ParkedKeys > 0)
        {
            return HealthCheckResult.Degraded(
                string.Create(CultureInfo.InvariantCulture,
                    $"{snapshot.ParkedKeys} key(s) parked, the oldest for {age.TotalSeconds:0.#} s: their events wait for an operator (dotnet outbox parked list); every other key flows."),
                data: data);
        }

        return HealthCheckResult.Healthy(
            snapshot.RetryingKeys > 0
                ? string.Create(CultureInfo.InvariantCulture, $"No key parked; {snapshot.RetryingKeys} key(s) wait for an automatic retry.")
                : "No key parked.",
            data);
    }
}
