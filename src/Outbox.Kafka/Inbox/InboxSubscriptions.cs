namespace Outbox.Inbox;

/// <summary>The subscriptions of one consumer group (named options, the name is the group id).</summary>
internal sealed class InboxSubscriptions
{
    private readonly List<InboxSubscription> _items = [];

    public IReadOnlyList<InboxSubscription> Items => _items;

    public void Add(InboxSubscription subscription)
    {
        // The same handler subscribed twice to the same event would run twice per event: keep the first.
        foreach (var existing in _items)
        {
            if (existing.EventType == subscription.EventType && existing.HandlerType == subscription.HandlerType)
            {
                return;
            }
        }

        _items.Add(subscription);
    }
}
