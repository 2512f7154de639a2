namespace Outbox.Providers;

/// <summary>
/// Sends outbox messages to the broker with the record shape of docs/architecture.md ("The contract") (topic from
/// <see cref="OutboxOptions.GetTopic"/>, key = aggregate id, value = payload bytes, headers <c>id</c>, <c>type</c>,
/// <c>traceparent</c>/<c>tracestate</c> when present). Every relay (polling, CDC) uses the same implementation.
/// The transport package implements it (Outbox.Kafka) and registers it; the relay packages call it.
/// For provider packages; applications do not call this.
/// </summary>
public interface IOutboxPublisher : IAsyncDisposable
{
    /// <summary>
    /// Publishes the messages in the order given and completes when every one has a delivery result. Results are
    /// aligned with <paramref name="messages"/>. When a message cannot even be handed to the producer (for example it
    /// is larger than the producer accepts), it is <see cref="PublishStatus.Failed"/> and every later message of the
    /// batch is <see cref="PublishStatus.NotAttempted"/>, so nothing overtakes it.
    /// </summary>
    /// <param name="messages">The records, in the order they must reach the broker per key.</param>
    /// <param name="cancellationToken">Stops waiting; records already handed over may still be delivered.</param>
    /// <returns>One result per record, aligned with <paramref name="messages"/>.</returns>
    ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken);

    /// <summary>
    /// Hands the messages to the producer in the order given and completes once every one was handed over (or one was
    /// refused); the deliveries complete later, in <see cref="PublishHandOver.Results"/>. The records of a call started
    /// after this one completed queue behind these on every partition, so a caller may keep several calls awaiting their
    /// results without reordering, provided it settles them in order and stops handing over after a refusal.
    /// </summary>
    /// <remarks>The default implementation waits for the results (no overlap between calls).</remarks>
    /// <param name="messages">The records, in the order they must reach the broker per key.</param>
    /// <param name="cancellationToken">Stops handing over.</param>
    /// <returns>Whether a record was refused, and the pending results.</returns>
    async ValueTask<PublishHandOver> HandOverAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var results = await PublishAsync(messages, cancellationToken).ConfigureAwait(false);
        return new PublishHandOver(Array.Exists(results, r => r.Status != PublishStatus.Acknowledged), Task.FromResult(results));
    }
}
