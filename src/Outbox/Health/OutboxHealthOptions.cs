using System.ComponentModel.DataAnnotations;

namespace Outbox;

/// <summary>Thresholds of the outbox health check (<c>AddOutboxHealthChecks</c>).</summary>
public sealed class OutboxHealthOptions
{
    /// <summary>Gets or sets the age of the oldest pending outbox row above which the check reports Degraded.</summary>
    /// <value>The default is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan PendingAgeDegraded { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets the age of the oldest pending outbox row above which the check reports Unhealthy.</summary>
    /// <value>The default is 5 minutes. Must be above <see cref="PendingAgeDegraded"/>.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan PendingAgeUnhealthy { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the CDC slot lag (bytes of WAL not yet confirmed) above which the check reports Degraded.</summary>
    /// <value>The default is 1 GiB.</value>
    [Range(1L, long.MaxValue)]
    public long SlotLagDegradedBytes { get; set; } = 1L << 30;

    /// <summary>Gets or sets how long a consumer group may have records waiting without finishing any before the check reports Unhealthy.</summary>
    /// <value>The default is 5 minutes. Keep it above the longest expected handler run plus its retries.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan ConsumerStuckAfter { get; set; } = TimeSpan.FromMinutes(5);
}
