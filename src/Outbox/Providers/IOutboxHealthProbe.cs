using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Outbox.Providers;

/// <summary>One part of the outbox health check, registered by the package that owns the component. For provider packages; applications do not call this.</summary>
public interface IOutboxHealthProbe
{
    /// <summary>Checks the component; <see langword="null"/> when it is not used in this application.</summary>
    /// <param name="options">The health check's thresholds.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The component's health, or <see langword="null"/>.</returns>
    Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken);
}
