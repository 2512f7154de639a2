using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Outbox;
using Outbox.Providers;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the outbox health check.</summary>
public static class OutboxHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds one health check that covers every outbox component the application uses: the polling relay runs and
    /// holds its leases (or is a standby), the oldest pending outbox row is younger than the thresholds, the CDC
    /// relay holds a healthy replication slot (a lost slot is Unhealthy), and each inbox consumer makes progress.
    /// The thresholds are validated at host start.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="configure">Configures the thresholds.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags, for example to select it in a readiness endpoint.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IHealthChecksBuilder AddOutboxHealthChecks(
        this IHealthChecksBuilder builder, Action<OutboxHealthOptions>? configure = null, string name = "outbox", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<OutboxHealthOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxHealthOptions>, OutboxHealthOptionsValidator>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxHealthOptions>, OutboxHealthOptionsRulesValidator>());
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new OutboxHealthCheck(sp.GetServices<IOutboxHealthProbe>(), sp.GetRequiredService<IOptions<OutboxHealthOptions>>()),
            failureStatus: HealthStatus.Unhealthy,
            tags));
    }
}
