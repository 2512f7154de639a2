using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Outbox.Inbox;
using static Outbox.Kafka.Tests.Inbox.InboxRoutesTests;

namespace Outbox.Kafka.Tests.Inbox;

public sealed class ConsumerBuilderExtensionsTests
{
    [Fact]
    public void Subscribe_registers_the_handler_scoped_and_the_same_pair_only_once()
    {
        var services = new ServiceCollection();
        var builder = new ConsumerBuilder("g", services);
        builder.Subscribe<Started, StartedHandler>().Subscribe<Started, StartedHandler>().Subscribe<Started, OtherStartedHandler>(allowBatching: false);

        using var provider = services.BuildServiceProvider();
        var subscriptions = provider.GetRequiredService<IOptionsMonitor<InboxSubscriptions>>().Get("g").Items;
        Assert.Equal([typeof(StartedHandler), typeof(OtherStartedHandler)], subscriptions.Select(s => s.HandlerType));
        Assert.Equal([true, false], subscriptions.Select(s => s.AllowBatching));
        Assert.Empty(provider.GetRequiredService<IOptionsMonitor<InboxSubscriptions>>().Get("other").Items);
        Assert.Equal(ServiceLifetime.Scoped, Assert.Single(services, d => d.ServiceType == typeof(StartedHandler)).Lifetime);
    }
}
