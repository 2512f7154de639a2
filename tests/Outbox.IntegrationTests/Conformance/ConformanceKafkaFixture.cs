using Outbox.Testing;

namespace Outbox.IntegrationTests.Conformance;

/// <summary>
/// One embedded Kafka cluster per relay, so that every relay writes to topics of exactly the same names (the topic is
/// part of the record contract) without seeing each other's records.
/// </summary>
public sealed class ConformanceKafkaFixture : IAsyncLifetime
{
    public KafkaServer Polling { get; private set; } = null!;

    public KafkaServer Cdc { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Polling = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 3, Kind = KafkaServerKind.Embedded });
        Cdc = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 3, Kind = KafkaServerKind.Embedded });
    }

    public async Task DisposeAsync()
    {
        await Polling.DisposeAsync();
        await Cdc.DisposeAsync();
    }
}
