using System.ComponentModel.DataAnnotations;

namespace Outbox;

/// <summary>
/// Options of the polling relay: lane leases, batching, concurrency, retries and retention.
/// See docs/relay-polling.md for how they interact and how to tune them.
/// </summary>
public sealed class PollingRelayOptions
{
    /// <summary>Gets or sets the name this relay instance writes as the owner of the lanes it leases.</summary>
    /// <value>The default is <see langword="null"/>: the machine name, process id and a random suffix, unique per start.</value>
    [StringLength(200)]
    public string? InstanceId { get; set; }

    /// <summary>Gets or sets how long a lane lease lasts without renewal. A dead instance's lanes move to others after this time.</summary>
    /// <value>The default is 30 seconds. Must be longer than <see cref="HeartbeatInterval"/> (three times as long is a good choice).</value>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how often the instance renews its leases and rebalances lanes with the other instances.</summary>
    /// <value>The default is 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:30:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how often owned lanes are checked for rows without a notification (the fallback of <c>LISTEN/NOTIFY</c>).</summary>
    /// <value>The default is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the most rows of one lane claimed, published and deleted together.</summary>
    /// <value>The default is 1,000.</value>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>
    /// Gets or sets how long a drain cycle waits after the previous one started before it claims: under load, one claim,
    /// one produce request and one completion then serve every event committed meanwhile, across lanes, instead of one
    /// each. A relay that was idle for this long claims at once, so the first event after a pause does not wait.
    /// Zero claims at once every time (the most round trips per event).
    /// </summary>
    /// <value>The default is 5 ms. At most 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Gets or sets how many lanes this instance drains at the same time (each one batch at a time, in order),
    /// in two drain cycles that each claim and settle their lanes together.</summary>
    /// <value>The default is 32 (two cycles of up to 16 lanes): a cycle slowed down for a moment (a busy machine) then
    /// still takes every lane that queued meanwhile, instead of leaving most of them for the cycles after it.</value>
    [Range(1, 256)]
    public int MaxConcurrentLanes { get; set; } = 32;

    /// <summary>Gets or sets the bound on the payload bytes this instance holds in memory at once: each of the
    /// <see cref="MaxConcurrentLanes"/> batches in flight gets an equal share, and a batch ends before the row that
    /// would pass its share (a single larger row still goes, alone).</summary>
    /// <value>The default is 64 MiB (2 MiB per batch with the default 32 lanes in flight). At least 64 KiB.</value>
    [Range(64L * 1024, 64L * 1024 * 1024 * 1024)]
    public long MaxBytesInFlight { get; set; } = 64L * 1024 * 1024;

    /// <summary>Gets or sets how many failed publish attempts of one event park its key: the event and every later event
    /// of the key then wait for an operator (<c>dotnet outbox parked</c>) while every other key flows. Failures of the
    /// broker or the network (broker down, timeouts) never count; an event the broker can never take (too large,
    /// invalid topic, not authorized) parks its key at once.</summary>
    /// <value>The default is 10.</value>
    [Range(1, 1_000_000)]
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Gets or sets the delay before the first retry of a failed event (only its key waits); it doubles per
    /// attempt (with jitter). Failures of the broker or the network make the lane wait the same way, capped at 30 seconds.</summary>
    /// <value>The default is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan InitialRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest delay between two attempts of a failed event.</summary>
    /// <value>The default is 5 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets how long published rows are kept. <see langword="null"/> deletes each row once Kafka acknowledged it;
    /// a value marks it published (<c>published_at</c>) instead, and a cleanup job deletes it after this time.
    /// </summary>
    /// <value>The default is <see langword="null"/> (delete on acknowledgement).</value>
    public TimeSpan? PublishedRetention { get; set; }

    /// <summary>Gets or sets how often the cleanup job deletes expired published rows (retention mode only).</summary>
    /// <value>The default is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(1);
}
