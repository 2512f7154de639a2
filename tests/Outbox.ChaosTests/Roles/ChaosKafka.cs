using Outbox.Kafka;

namespace Outbox.ChaosTests.Roles;

/// <summary>Kafka client settings of every role: library defaults, plus quick reconnects and rebalances for a test.</summary>
public static class ChaosKafka
{
    public static void Configure(KafkaOptions options, string bootstrapServers)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.BootstrapServers = bootstrapServers;

        // librdkafka backs off up to 10 s between reconnects by default: after a broker outage that would only make
        // the quiet period longer, it changes nothing about what is checked.
        options.Producer.ReconnectBackoffMaxMs = 1000;
        options.Consumer.ReconnectBackoffMaxMs = 1000;

        // A killed consumer's partitions move after the session timeout (classic protocol).
        options.Consumer.SessionTimeoutMs = 6000;
        options.Consumer.HeartbeatIntervalMs = 1000;
    }
}
