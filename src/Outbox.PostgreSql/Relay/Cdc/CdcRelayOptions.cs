using System.ComponentModel.DataAnnotations;

namespace Outbox;

/// <summary>
/// Options of the CDC relay: the logical replication slot and publication it reads the outbox from, batching, retries
/// and shutdown. See docs/relay-cdc.md for how they interact.
/// </summary>
public sealed class CdcRelayOptions
{
    /// <summary>Gets or sets the name of the logical replication slot. The slot is the relay's position in the WAL and its
    /// leader lock: one relay streams from it at a time, others wait.</summary>
    /// <value>The default is <c>outbox_cdc</c>. Lower-case letters, digits and <c>_</c>, at most 63 characters. Slot
    /// names are unique in the whole PostgreSQL cluster: give each database its own.</value>
    [Required]
    public string SlotName { get; set; } = "outbox_cdc";

    /// <summary>Gets or sets the name of the publication of the outbox table (<c>WITH (publish = 'insert')</c>).</summary>
    /// <value>The default is <c>outbox</c>. The relay creates it when it is missing; an existing one must publish the
    /// outbox table and inserts only.</value>
    [Required]
    public string PublicationName { get; set; } = "outbox";

    /// <summary>Gets or sets the most rows handed to the publisher in one call.</summary>
    /// <value>The default is 5,000. While <see cref="MaxBatchesInFlight"/> calls await the broker, the next batch collects
    /// every row decoded meanwhile, up to this size. A quiet stream publishes each row at once.</value>
    [Range(1, 100_000)]
    public int MaxBatchSize { get; set; } = 5000;

    /// <summary>Gets or sets how many publish calls may await the broker's acknowledgements at once.</summary>
    /// <value>The default is 4. Batches are handed to the producer one after the other, so records keep stream order on
    /// every partition, and their results are settled in that order: the confirmed position only passes rows whose every
    /// predecessor was acknowledged. After a row the producer refuses outright, no later batch is handed over until that
    /// batch is settled. 1 publishes one batch at a time.</value>
    [Range(1, 64)]
    public int MaxBatchesInFlight { get; set; } = 4;

    /// <summary>Gets or sets how often acknowledged rows are deleted from the outbox table and the slot's confirmed
    /// position is sent to the server.</summary>
    /// <value>The default is 250 milliseconds. While nothing is in flight the relay also confirms the stream's latest
    /// position, so an idle slot does not keep WAL.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan AcknowledgeInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Gets or sets how long the server may stay silent before the replication connection is considered broken.
    /// The relay asks the server for a keepalive after half of it, which also moves an idle slot forward.</summary>
    /// <value>The default is 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ReplicationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how often a standby (an instance whose slot is streamed by another one) checks whether the slot
    /// became free.</summary>
    /// <value>The default is 1 second: a standby takes over about a second after the active relay's connection closes.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan StandbyPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the delay before the first retry after a failure: of a key whose event failed (see
    /// <see cref="MaxAttempts"/>), or of the stream after the broker or the connection failed; it doubles per
    /// consecutive failure.</summary>
    /// <value>The default is 1 second.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan InitialRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest delay between two retries.</summary>
    /// <value>The default is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets how many failed publish attempts of one event park its key. A failure counts when it is the
    /// record's (not the broker's or the network's); a permanent one (too large, invalid topic, not authorized) parks the
    /// key at once. Until then the key waits <see cref="InitialRetryDelay"/> (doubling per attempt, up to
    /// <see cref="MaxRetryDelay"/>) and is tried again; meanwhile, and while it is parked, the key's events wait in the
    /// outbox table in order and every other key goes on. Attempts are kept in the parked-keys table, so a restart or a
    /// standby's takeover goes on counting.</summary>
    /// <value>The default is 10.</value>
    [Range(1, 1_000_000)]
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Gets or sets the most payload bytes the relay keeps decoded and not yet settled (queued for the producer
    /// or awaiting the broker's acknowledgement). The relay stops reading the stream while they are reached; a single
    /// event larger than this is still published, alone.</summary>
    /// <value>The default is 64 MiB. At least 64 KiB.</value>
    [Range(typeof(long), "65536", "1099511627776")]
    public long MaxBytesInFlight { get; set; } = 64L * 1024 * 1024;

    /// <summary>Gets or sets how long a graceful stop waits for rows in flight to be acknowledged, so that the next start
    /// repeats as few rows as possible.</summary>
    /// <value>The default is 10 seconds. With <see cref="TimeSpan.Zero"/> the relay stops at once: whatever was not
    /// confirmed is published again by the next relay (at least once, never lost).</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
