namespace Outbox.Inbox;

/// <summary>Sends records that cannot be handled to the dead-letter topic of the transport.</summary>
internal interface IDeadLetterPublisher
{
    /// <summary>Sends the record with headers that say where it came from and why; completes when the broker acknowledged it.</summary>
    /// <returns>The dead-letter topic.</returns>
    Task<string> PublishAsync(InboxRecord record, string consumerGroup, DeadLetter deadLetter, CancellationToken cancellationToken);
}
