using Confluent.Kafka;

namespace Outbox.Kafka.Publishing;

/// <summary>The effective producer settings: the library's defaults, then everything the application set.</summary>
internal static class ProducerConfigFactory
{
    public static ProducerConfig Create(KafkaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new ProducerConfig
        {
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 5,

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
