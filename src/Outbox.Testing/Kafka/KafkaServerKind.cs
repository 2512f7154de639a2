namespace Outbox.Testing;

/// <summary>Where a <see cref="KafkaServer"/> comes from.</summary>
public enum KafkaServerKind
{
    /// <summary>Existing brokers named by the <c>OUTBOX_TEST_KAFKA</c> environment variable (bootstrap servers).</summary>
    Environment,

    /// <summary>A throwaway single-broker Kafka container started through Testcontainers.</summary>
    Container,

    /// <summary>librdkafka's mock cluster, started inside this process; it supports fault injection.</summary>
    Embedded,
}
