namespace Outbox;

/// <summary>
/// Events to record with the next <c>SaveChanges</c> of a <c>DbContext</c>, for events not raised by an entity.
/// Obtain it with <c>dbContext.Outbox()</c>. The events are written in the same transaction as the changes and
/// leave this buffer only when that transaction commits.
/// </summary>
public interface IOutbox
{
    /// <summary>Adds an event to be written by the next <c>SaveChanges</c>.</summary>
    /// <param name="evt">The event; its CLR type must be mapped with <see cref="OutboxOptions.MapEvent{TEvent}"/>.</param>
    /// <exception cref="UnmappedEventException">The event's type is not mapped.</exception>
    void Add(object evt);

    /// <summary>Gets the events added and not yet committed.</summary>
    IReadOnlyCollection<object> Pending { get; }
}
