using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Outbox.Inbox;

namespace Outbox;

/// <summary>Subscribes handlers to events in a consumer group.</summary>
public static class ConsumerBuilderExtensions
{
    /// <summary>
    /// Handles <typeparamref name="TEvent"/> with <typeparamref name="THandler"/> in this consumer group. The group
    /// reads the topic of the event's aggregate type. Several handlers may subscribe to one event type: they run one
    /// after another in the same transaction, in the order subscribed.
    /// </summary>
    /// <typeparam name="TEvent">The event type; it must be mapped with <see cref="OutboxOptions.MapEvent{TEvent}"/>.</typeparam>
    /// <typeparam name="THandler">The handler; registered as scoped unless the application registered it already.</typeparam>
    /// <param name="builder">The consumer builder.</param>
    /// <param name="allowBatching">Whether records of this subscription may share a transaction with the records
    /// before and after them when the consumer batches; the default is <see langword="true"/>. Pass
    /// <see langword="false"/> for handlers that must run alone in a transaction.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IConsumerBuilder Subscribe<TEvent, THandler>(this IConsumerBuilder builder, bool allowBatching = true)
        where TEvent : class
        where THandler : class, IInboxHandler<TEvent>
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddScoped<THandler>();
        var subscription = InboxSubscription.Create<TEvent, THandler>(allowBatching);
        builder.Services.Configure<InboxSubscriptions>(builder.GroupId, s => s.Add(subscription));
        return builder;
    }

    /// <summary>
    /// Runs each record's inbox transaction in the database of the tenant its header names (by default
    /// <c>outbox-database</c>, which the relay of many databases sets). The inbox row, the partition's stored offset, the
    /// handlers' changes and the outbox rows they add commit together in that tenant's database, so each tenant's effects
    /// happen exactly once; records of different tenants never share a transaction. Offsets are stored per tenant: after
    /// a restart or rebalance the consumer reads on from Kafka's committed offset (which never passes a finished
    /// record) and skips the records a tenant's database has already stored past. A parked key parks only its tenant's
    /// records.
    /// </summary>
    /// <param name="builder">The consumer builder.</param>
    /// <param name="configure">Sets <see cref="InboxTenantRouting.UseTenant"/> and <see cref="InboxTenantRouting.ListTenants"/> (both required).</param>
    /// <returns>The builder, for chaining.</returns>
    public static IConsumerBuilder RouteByTenant(this IConsumerBuilder builder, Action<InboxTenantRouting> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure<InboxTenantRouting>(builder.GroupId, o =>
        {
            o.Enabled = true;
            configure(o);
        });
        return builder;
    }
}
