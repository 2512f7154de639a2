using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Outbox;

/// <summary>One part of the outbox health check, registered by the package that owns the component.</summary>
internal interface IOutboxHealthProbe
{
    /// <summary>Checks the component; <see langword="null"/> when it is not used in this application.</summary>
    Task<HealthCheckResult?> CheckAsync(OutboxHealthOptions options, CancellationToken cancellationToken);
}
