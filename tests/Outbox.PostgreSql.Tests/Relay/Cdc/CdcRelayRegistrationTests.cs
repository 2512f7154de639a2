using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

/// <summary>The container builds the CDC relay's graph when the host resolves its hosted services.</summary>
public sealed class CdcRelayRegistrationTests
{
    [Fact]
    public void Without_a_transport_resolving_the_hosted_services_fails_naming_UseKafka()
    {
        var services = new ServiceCollection();
        services.AddOutbox().UsePostgreSql("Host=127.0.0.1;Database=unused").AddCdcRelay();
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OutboxConfigurationException>(() => provider.GetServices<IHostedService>().ToList());
        Assert.Contains("AddCdcRelay()", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseKafka", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_hosted_service_runs_the_relay_the_container_built()
    {
        var services = new ServiceCollection();
        services.AddOutbox().UsePostgreSql("Host=127.0.0.1;Database=unused").AddCdcRelay();
        Assert.Contains(services, d => d.ServiceType == typeof(CdcRelay));
        Assert.Contains(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType is null && d.ImplementationFactory is not null);
    }
}
