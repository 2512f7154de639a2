using Confluent.Kafka;

namespace Outbox.Kafka.Consuming;

/// <summary>The effective client settings of an inbox consumer group and of its dead-letter producer.</summary>
internal static class ConsumerClientConfig
{
    public static ConsumerConfig CreateConsumer(KafkaOptions options, string groupId)
    {
        var config = new ConsumerConfig
        {
            // A new group reads the topic from its start: events already published are handled too.
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            // librdkafka's default too, stated here because the inbox relies on it: on a broker that enforces
            // transactions, records of aborted or open Kafka transactions (a fenced producer's) are not handed to a handler.
            IsolationLevel = IsolationLevel.ReadCommitted,
        };
        if (!string.IsNullOrWhiteSpace(options.BootstrapServers))
        {
            config.BootstrapServers = options.BootstrapServers;
        }

        foreach (var setting in options.Consumer)
        {
            config.Set(setting.Key, setting.Value);
        }

        // Not overridable: offsets are stored only after the database transaction committed.
        config.GroupId = groupId;
        config.EnableAutoOffsetStore = false;
        return config;
    }

    public static ProducerConfig CreateDeadLetterProducer(KafkaOptions options)
    {
        // A dead letter gets one delivery attempt (within message.timeout.ms); when it fails, the record goes to the
        // parked table instead. 30 s rather than librdkafka's 5 minutes, so an unreachable topic holds a partition briefly.
        var config = new ProducerConfig { Acks = Acks.All, EnableIdempotence = true, LingerMs = 5, MessageTimeoutMs = 30_000 };
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
