using Microsoft.EntityFrameworkCore;

namespace Outbox.Providers;

/// <summary>
/// The inbox tables, reached through the consumer's <see cref="DbContext"/> so that the inbox rows and offsets commit
/// in the same transaction as the handler's changes. Implemented by the store package (PostgreSQL), called by the
/// inbox engine that the transport's consumer host drives. For provider packages; applications do not call this.
/// </summary>
public interface IInboxStore
{
    /// <summary>
    /// In the context's current transaction: inserts an inbox row per entry unless the group already has one with the
    /// same message id, and sets the partition's next offset to <see cref="InboxPosition.NextOffset"/> unless a larger
    /// one is stored (a stored offset never moves back: see <see cref="SaveOffsetAsync"/>).
    /// </summary>
    /// <returns>The message ids that were inserted now, i.e. not handled before.</returns>
    Task<IReadOnlySet<string>> AddAsync(DbContext context, InboxPosition position, IReadOnlyList<InboxEntry> entries, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Sets the partition's next offset (in the context's current transaction, or on its own), unless a larger one is
    /// stored: a member that lost the partition and commits late must not move the new owner's position back.
    /// </summary>
    Task SaveOffsetAsync(DbContext context, InboxPosition position, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the stored next offsets of the group for the given topics. Synchronous because transports call it from
    /// their (synchronous) partition-assignment callback, on the transport's own thread.
    /// </summary>
    IReadOnlyDictionary<(string Topic, int Partition), long> ReadOffsets(DbContext context, string consumerGroup, IReadOnlyCollection<string> topics);

    /// <summary>Deletes up to <paramref name="limit"/> inbox rows of the group handled before <paramref name="cutoff"/>.</summary>
    /// <returns>The number of rows deleted.</returns>
    Task<int> DeleteHandledBeforeAsync(DbContext context, string consumerGroup, DateTimeOffset cutoff, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction of its own: stores the record in the parked table and sets the partition's next offset past
    /// it (see <see cref="SaveOffsetAsync"/>), so that no owner of the partition handles it, or anything held behind it,
    /// out of order. Storing a record that is already there (same group, topic, partition and offset) keeps the row.
    /// </summary>
    Task ParkAsync(DbContext context, string consumerGroup, ParkedRecord record, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the keys with rows in the parked table of the group in one partition (see <see cref="InboxParkedKey"/>). Synchronous because transports call it from their (synchronous) partition-assignment callback.
    /// </summary>
    IReadOnlyList<InboxParkedKey> ReadParkedKeys(DbContext context, string consumerGroup, string topic, int partition);

    /// <summary>Reads the rows of the partition an operator asked to replay, in offset order.</summary>
    Task<IReadOnlyList<ParkedRecord>> ReadReplayRequestsAsync(DbContext context, string consumerGroup, string topic, int partition, CancellationToken cancellationToken);

    /// <summary>Deletes a row of the parked table (in the context's current transaction, or on its own): its record was handled.</summary>
    Task RemoveParkedAsync(DbContext context, string consumerGroup, string topic, int partition, long offset, CancellationToken cancellationToken);

    /// <summary>
    /// A replay failed at this row: it becomes the parked record of its key (or stays a dead letter) with the new
    /// error and attempts, and its replay request ends; with <paramref name="endKeyReplay"/>, the replay request of every
    /// row of its key in the partition ends too.
    /// </summary>
    Task ReparkAsync(DbContext context, string consumerGroup, ParkedRecord record, bool endKeyReplay, DateTimeOffset now, CancellationToken cancellationToken);
}
