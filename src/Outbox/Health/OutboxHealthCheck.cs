using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Outbox.Providers;

namespace Outbox;

/// <summary>Runs every registered probe and reports the worst status, with each probe's description and data.</summary>
internal sealed class OutboxHealthCheck(IEnumerable<IOutboxHealthProbe> probes, IOptions<OutboxHealthOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = HealthStatus.Healthy;
        var descriptions = new List<string>();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        Exception? exception = null;
        foreach (var probe in probes)
        {
            HealthCheckResult? result;
            try
            {
                result = await probe.CheckAsync(options.Value, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result = HealthCheckResult.Unhealthy($"{probe.GetType().Name} failed: {ex.Message}", ex);
            }

            if (result is not { } r)
            {
                continue;
            }

            if (r.Status < status)
            {
                status = r.Status;
            }

            descriptions.Add(r.Description ?? r.Status.ToString());
            exception ??= r.Exception;
            foreach (var (key, value) in r.Data)
            {
                data[key] = value;
            }
        }

        return new HealthCheckResult(status, descriptions.Count == 0 ? "No outbox component to check." : string.Join(" ", descriptions), exception, data);
    }
}
