using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Contract;

/// <summary>The relay contract, run by the polling relay (AddPollingRelay()).</summary>
public sealed class PollingRelayContractTests(ITestOutputHelper output, RelayContractKafkaFixture fixture)
    : RelayContractTests(output), IClassFixture<RelayContractKafkaFixture>
{
    protected override Task<RelayContractDriver> CreateDriverAsync() => PollingContractDriver.CreateAsync(Output, fixture.Kafka);
}
