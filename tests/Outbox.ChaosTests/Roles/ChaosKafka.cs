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

        // The embedded broker sometimes keeps a request unanswered across a down/up instead of closing the connection
        // as a real broker would; librdkafka then waits out socket.timeout.ms (60 s) before retrying. 10 s bounds that
        // stall; with a real broker the connection would fail at once.
        options.Producer.SocketTimeoutMs = 10_000;
        options.Producer.RequestTimeoutMs = 10_000;
        options.Consumer.SocketTimeoutMs = 10_000;

        // The embedded broker accepts an idempotent batch whose sequence skips one it failed with an injected error; a
        // real broker refuses it. librdkafka then rightly counts the failed batch as written (implicit ack) though the
        // mock never stored it (EmbeddedBrokerFidelityTests). One request in flight per connection keeps the injected
        // produce errors without that false loss.
        options.Producer.MaxInFlight = 1;

        // After the brokers come back, a classic group waits for members that will never rejoin for the rebalance
        // timeout, which is max.poll.interval.ms (5 minutes by default) on the embedded broker.
        options.Consumer.MaxPollIntervalMs = 15_000;

        // A killed consumer's partitions move after the session timeout (classic protocol).
        options.Consumer.SessionTimeoutMs = 6000;
        options.Consumer.HeartbeatIntervalMs = 1000;
    }
}
