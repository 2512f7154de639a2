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
}
