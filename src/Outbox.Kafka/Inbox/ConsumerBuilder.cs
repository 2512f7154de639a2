using Microsoft.Extensions.DependencyInjection;

namespace Outbox.Inbox;

internal sealed class ConsumerBuilder(string groupId, IServiceCollection services) : IConsumerBuilder
{
    public string GroupId { get; } = groupId;

    public IServiceCollection Services { get; } = services;
}
