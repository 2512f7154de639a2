using System.ComponentModel.DataAnnotations;
using Confluent.Kafka;

namespace Outbox;

/// <summary>
/// Options of the Kafka transport, shared by the publisher (relays) and the consumer host (inbox). Every librdkafka
/// setting is reachable through <see cref="Producer"/> and <see cref="Consumer"/>: SASL, TLS, linger, batch size,
/// compression and so on.
/// </summary>
public sealed class KafkaOptions
{
    /// <summary>Gets or sets the bootstrap servers, such as <c>broker1:9092,broker2:9092</c>.</summary>
    /// <value>No default. Applied to <see cref="Producer"/> and <see cref="Consumer"/> unless they set
    /// <c>bootstrap.servers</c> themselves; required when neither does.</value>
    public string? BootstrapServers { get; set; }

    /// <summary>Gets or sets the producer settings passed through to librdkafka (any <c>ProducerConfig</c> property or raw key).</summary>
    /// <value>
    /// Empty by default. Settings given here override the library's defaults: <c>acks=all</c>,
    /// <c>enable.idempotence=true</c>, <c>linger.ms=5</c> (1 with <c>AddCdcRelay()</c>, whose batches are formed before
    /// they reach the producer: see docs/relay-cdc.md), <c>partitioner=murmur2_random</c> (the Java client's
    /// partitioner, so keys land on the same partitions as with Debezium). <c>acks</c> must stay <c>all</c> and
    /// <c>enable.idempotence</c> must stay <see langword="true"/>: per-key order depends on them.
    /// </value>
    [Required]
    public ProducerConfig Producer { get; set; } = new();

    /// <summary>Gets or sets the consumer settings passed through to librdkafka (any <c>ConsumerConfig</c> property or raw key).</summary>
    /// <value>Empty by default.</value>
    [Required]
    public ConsumerConfig Consumer { get; set; } = new();

    /// <summary>Gets or sets how long disposing the publisher waits for outstanding deliveries.</summary>
    /// <value>The default is 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
