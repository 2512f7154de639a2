namespace Outbox.Providers;

/// <summary>Sends records that cannot be handled to the dead-letter topic of the transport. Implemented by the transport
/// package (Outbox.Kafka), called by the inbox engine. For provider packages; applications do not call this.</summary>
public interface IDeadLetterPublisher
{
    /// <summary>Sends the record with headers that say where it came from and why; completes when the broker acknowledged it.</summary>
    /// <param name="record">The record as it was read.</param>
    /// <param name="consumerGroup">The consumer group that read it.</param>
    /// <param name="deadLetter">Why it is dead-lettered.</param>
    /// <param name="cancellationToken">Stops waiting for the broker.</param>
    /// <returns>The dead-letter topic.</returns>
    Task<string> PublishAsync(InboxRecord record, string consumerGroup, DeadLetter deadLetter, CancellationToken cancellationToken);
}
