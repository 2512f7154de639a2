namespace Outbox;

/// <summary>
/// Handles one event type for a consumer group. The inbox calls it at most once per event id and group in effect:
/// its database changes on the consumer's <c>DbContext</c> commit in the same transaction as the inbox row, the
/// consumed offset and any outbox events it adds, or not at all.
/// </summary>
/// <typeparam name="TEvent">The event type, mapped with <see cref="OutboxOptions.MapEvent{TEvent}"/>.</typeparam>
/// <remarks>
/// Resolved from a dependency-injection scope per transaction (one message, or one batch when batching is on); the
/// consumer's <c>DbContext</c> comes from the same scope. Calling <c>SaveChanges</c> is optional: the consumer host
/// saves once more before it commits. Effects outside that database (HTTP calls, e-mails) are at least once: a
/// failed attempt is retried.
/// </remarks>
public interface IInboxHandler<in TEvent>
    where TEvent : class
{
    /// <summary>Handles an event.</summary>
    /// <param name="evt">The event, deserialized from the record's value.</param>
    /// <param name="context">Where the event came from: id, key, topic, partition, offset, headers and type.</param>
    /// <param name="cancellationToken">Cancelled when the consumer stops or loses the partition; the transaction then rolls back.</param>
    /// <returns>A task that completes when the event is handled. An exception rolls the transaction back and retries it.</returns>
    Task HandleAsync(TEvent evt, MessageContext context, CancellationToken cancellationToken);
}
