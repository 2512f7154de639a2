namespace Outbox;

/// <summary>
/// Implemented by entities that raise domain events. The outbox interceptor collects the events of every tracked
/// entity during <c>SaveChanges</c>, writes them in the same transaction, and clears them once that transaction commits.
/// </summary>
public interface IHasDomainEvents
{
    /// <summary>Gets the events raised since the entity was last saved.</summary>
    IReadOnlyCollection<object> DomainEvents { get; }

    /// <summary>Removes the given events; called after the transaction that wrote them committed.</summary>
    /// <param name="events">The events that are now durably recorded.</param>
    void RemoveDomainEvents(IReadOnlyCollection<object> events);
}
