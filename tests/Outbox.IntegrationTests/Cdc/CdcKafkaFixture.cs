using Outbox.Testing;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>An embedded Kafka cluster of the test class's own, so that its broker faults and delays touch no other test.</summary>
public sealed class CdcKafkaFixture : IAsyncLifetime
{
    public KafkaServer Kafka { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 3, Kind = KafkaServerKind.Embedded });

    public async Task DisposeAsync() => await Kafka.DisposeAsync();
}
