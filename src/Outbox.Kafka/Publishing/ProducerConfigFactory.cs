using Confluent.Kafka;

namespace Outbox.Kafka.Publishing;

/// <summary>The effective producer settings: the library's defaults, then everything the application set.</summary>
internal static class ProducerConfigFactory
{
    /// <summary>The producer's <c>linger.ms</c> unless a relay asks for another default or the application sets it.</summary>
    public const int DefaultLingerMs = 5;

    /// <param name="options">The application's settings; they win over every default.</param>
    /// <param name="defaultLingerMs">The default <c>linger.ms</c>: a relay may ask for its own (the CDC relay asks for 1 ms).</param>
    public static ProducerConfig Create(KafkaOptions options, int defaultLingerMs = DefaultLingerMs)
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

        foreach (var setting in options.Producer)
        {
            config.Set(setting.Key, setting.Value);
        }

        return config;
    }
}
