using Microsoft.Extensions.DependencyInjection;

namespace Outbox;

/// <summary>Configures one consumer group of the inbox: its subscriptions (<c>Subscribe</c>) and, through the transport package, its options.</summary>
public interface IConsumerBuilder
{
    /// <summary>Gets the consumer group id.</summary>
    string GroupId { get; }

    /// <summary>Gets the application's service collection.</summary>
    IServiceCollection Services { get; }
}
