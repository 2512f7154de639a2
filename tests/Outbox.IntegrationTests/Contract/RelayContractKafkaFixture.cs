using Outbox.Testing;

namespace Outbox.IntegrationTests.Contract;

/// <summary>
/// An embedded Kafka cluster for one relay's contract class: its tests take every broker down and inject produce
/// errors, which must touch no other test class. The class's tests run one after another, so they share it.
/// </summary>
public sealed class RelayContractKafkaFixture : IAsyncLifetime
{
    public KafkaServer Kafka { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 3, Kind = KafkaServerKind.Embedded });

    public async Task DisposeAsync() => await Kafka.DisposeAsync();
}
