using Outbox.IntegrationTests.Cdc;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Contract;

/// <summary>The relay contract, run by the CDC relay (AddCdcRelay()); in the CDC collection, which owns the slots.</summary>
[Collection(CdcCollection.Name)]
public sealed class CdcRelayContractTests(ITestOutputHelper output, RelayContractKafkaFixture fixture)
    : RelayContractTests(output), IClassFixture<RelayContractKafkaFixture>
{
    protected override Task<RelayContractDriver> CreateDriverAsync() => CdcContractDriver.CreateAsync(Output, fixture.Kafka);
}
