using System.ComponentModel.DataAnnotations;

namespace Outbox;

/// <summary>
/// Options of one inbox consumer group (named options; the name is the group id). Kafka client settings shared by
/// every group (bootstrap servers, SASL/TLS, <c>session.timeout.ms</c>, ...) come from <see cref="KafkaOptions"/>.
/// </summary>
public sealed class InboxConsumerOptions
{
    /// <summary>The placeholder in <see cref="DeadLetterTopicTemplate"/> replaced by the original topic.</summary>
    public const string TopicPlaceholder = "{topic}";

    /// <summary>
    /// Gets or sets how many times a handler is tried on a record before the record fails for good: it is sent to the
    /// dead-letter topic and parked with its key. Transient database errors are retried without counting; a record the
    /// database refuses (a data or integrity error) fails for good at once.
    /// </summary>
    /// <value>The default is 5.</value>
    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Gets or sets the wait after the first failed attempt; it doubles after each further failure.</summary>
    /// <value>The default is 200 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan InitialRetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Gets or sets the longest wait between two attempts.</summary>
    /// <value>The default is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how many records of one partition may share a transaction. Records already waiting are batched;
    /// the consumer never waits to fill a batch. When a batch fails, its records are handled one by one.
    /// </summary>
    /// <value>The default is 1 (no batching).</value>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 1;

    /// <summary>Gets or sets how many partitions are handled at the same time (each holds a database connection while it commits).</summary>
    /// <value>The default is 16.</value>
    [Range(1, 1024)]
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>Gets or sets how many records of one partition are read ahead before the partition is paused (at least twice <see cref="MaxBatchSize"/> is used).</summary>
    /// <value>The default is 1,000.</value>
    [Range(1, 1_000_000)]
    public int MaxBufferedRecordsPerPartition { get; set; } = 1000;

    /// <summary>
    /// Gets or sets a bound on the bytes (keys, values and headers) of the records the consumer has read ahead and not
    /// yet finished, over all its partitions. When it is reached, fetching pauses on every partition until half of it
    /// drained: the consumer holds at most this many bytes plus the one record that crossed the bound (librdkafka's own
    /// fetch queue, <c>queued.max.messages.kbytes</c>, comes on top).
    /// </summary>
    /// <value>The default is 64 MiB.</value>
    [Range(typeof(long), "65536", "1099511627776")]
    public long MaxBufferedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Gets or sets how often the worker of a partition that has records in the parked table checks, between batches,
    /// whether an operator asked to replay or discard them (<c>InboxParking</c>, <c>dotnet outbox parked</c>).
    /// </summary>
    /// <value>The default is 5 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan ParkedCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the dead-letter topic; <c>{topic}</c> is replaced by the record's topic.</summary>
    /// <value>The default is <c>{topic}.dlq</c>.</value>
    [Required]
    public string DeadLetterTopicTemplate { get; set; } = TopicPlaceholder + ".dlq";

    /// <summary>
    /// Gets or sets how long inbox rows are kept. They catch duplicates that a relay sends at a new offset (after it
    /// died between Kafka's acknowledgement and its own bookkeeping), which arrive within seconds to minutes. Replays of
    /// already consumed offsets are caught by the stored offsets, which are kept.
    /// </summary>
    /// <value>The default is 7 days.</value>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan InboxRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Gets or sets how often inbox rows older than <see cref="InboxRetention"/> are deleted.</summary>
    /// <value>The default is 1 hour.</value>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets how long a running transaction may go on after the host stops or its partition is revoked; after
    /// that it is cancelled and rolls back (the next owner of the partition handles the record again).
    /// </summary>
    /// <value>The default is 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
