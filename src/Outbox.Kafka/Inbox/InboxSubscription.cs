using Microsoft.Extensions.DependencyInjection;

namespace Outbox.Inbox;

/// <summary>One handler of one event type in a consumer group, with a delegate that calls it without reflection.</summary>
internal sealed class InboxSubscription
{
    private InboxSubscription(Type eventType, Type handlerType, bool allowBatching, Func<IServiceProvider, object, MessageContext, CancellationToken, Task> invoke)
    {
        EventType = eventType;
        HandlerType = handlerType;
        AllowBatching = allowBatching;
        Invoke = invoke;
    }

    public Type EventType { get; }

    public Type HandlerType { get; }

    public bool AllowBatching { get; }

    /// <summary>Resolves the handler from the scope's provider and calls it.</summary>
    public Func<IServiceProvider, object, MessageContext, CancellationToken, Task> Invoke { get; }

    public static InboxSubscription Create<TEvent, THandler>(bool allowBatching)
        where TEvent : class
        where THandler : class, IInboxHandler<TEvent> =>
        new(typeof(TEvent), typeof(THandler), allowBatching, static (services, evt, context, cancellationToken) =>
            services.GetRequiredService<THandler>().HandleAsync((TEvent)evt, context, cancellationToken));
}
