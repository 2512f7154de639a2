using Confluent.Kafka;

namespace Outbox.Kafka.Publishing;

/// <summary>The effective producer settings: the library's defaults, then everything the application set.</summary>
internal static class ProducerConfigFactory
{
    /// <summary>The producer's <c>linger.ms</c> unless a relay asks for another default or the application sets it.</summary>
    public const int DefaultLingerMs = 5;

    /// <summary>
    /// Room for what a record carries besides its payload (key, headers, record framing) when the producer's
    /// <c>message.max.bytes</c> is sized from <see cref="OutboxOptions.MaxPayloadBytes"/>.
    /// </summary>
    public const int RecordOverheadBytes = 16 * 1024;

    /// <summary>librdkafka's own default of <c>message.max.bytes</c>.</summary>
    public const int LibrdkafkaMessageMaxBytes = 1_000_000;

    /// <param name="options">The application's settings; they win over every default.</param>
    /// <param name="defaultLingerMs">The default <c>linger.ms</c>: a relay may ask for its own (the CDC relay asks for 1 ms).</param>
    /// <param name="maxPayloadBytes">
    /// The largest payload the outbox accepts (<see cref="OutboxOptions.MaxPayloadBytes"/>): unless the application set
    /// <c>message.max.bytes</c>, the producer is given room for it plus <see cref="RecordOverheadBytes"/>, so that an
    /// event the write path accepted is never one the producer refuses.
    /// </param>
    public static ProducerConfig Create(KafkaOptions options, int defaultLingerMs = DefaultLingerMs, int? maxPayloadBytes = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new ProducerConfig
        {
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = defaultLingerMs,

            // The Java client's partitioner: the same key lands on the same partition as with Debezium/Kafka Connect.
            Partitioner = Partitioner.Murmur2Random,

            // The relay needs the error and status only; not marshalling keys, values and headers back saves CPU.
            DeliveryReportFields = "status",
        };
        if (!string.IsNullOrWhiteSpace(options.BootstrapServers))
        {
            config.BootstrapServers = options.BootstrapServers;
        }

        if (maxPayloadBytes is { } payload)
        {
            config.MessageMaxBytes = Math.Max(LibrdkafkaMessageMaxBytes, payload + RecordOverheadBytes);
        }

        foreach (var setting in options.Producer)
        {
            config.Set(setting.Key, setting.Value);
        }

        return config;
    }

    /// <summary>librdkafka's own default of <c>message.timeout.ms</c> (5 minutes).</summary>
    public const int LibrdkafkaMessageTimeoutMs = 300_000;

    /// <summary>
    /// Takes the delivery time limit (<c>message.timeout.ms</c>, or its alias <c>delivery.timeout.ms</c>) away from
    /// librdkafka and returns it, for the publisher to enforce; <see langword="null"/>: no limit (0). librdkafka times
    /// out each queued record on its own, so when the brokers come back between the timeout of one record and the next
    /// record of its partition, the later one is delivered and the earlier one is not: a gap, and a key out of order.
    /// With no limit in librdkafka its idempotent producer never leaves a gap; the publisher then fails every record of
    /// the producer at once and replaces the producer (<see cref="KafkaOutboxPublisher"/>).
    /// </summary>
    public static TimeSpan? TakeDeliveryTimeout(ProducerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var key = config.Get("message.timeout.ms") is not null ? "message.timeout.ms" : "delivery.timeout.ms";
        var value = config.Get(key);
        var ms = LibrdkafkaMessageTimeoutMs;
        if (value is not null && !int.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out ms))
        {
            throw new OutboxConfigurationException(
                $"KafkaOptions.Producer sets {key} to '{value}', which is not a number of milliseconds (0: no limit).");
        }

        config.Set("message.timeout.ms", "0");
        if (config.Get("delivery.timeout.ms") is not null)
        {
            config.Set("delivery.timeout.ms", "0");
        }

        return ms <= 0 ? null : TimeSpan.FromMilliseconds(ms);
    }
}
