using Npgsql;
using Outbox.PostgreSql.Inbox;

namespace Outbox.PostgreSql;

/// <summary>
/// The inbox's parked records, for operators (the <c>dotnet outbox parked</c> commands use it). A record that fails
/// for good (after <c>InboxConsumerOptions.MaxAttempts</c>, or at once when the database refuses it) is sent to the
/// dead-letter topic and stored in the parked table, and parks its key in its partition: the later records of that key
/// are stored there too (held, in offset order) while every other key goes on. <see cref="ReplayAsync"/> and
/// <see cref="DiscardAsync"/> release a key; the consumer that owns the partition carries them out between two
/// batches, within <c>InboxConsumerOptions.ParkedCheckInterval</c>. Registered by <c>UsePostgreSql</c>.
/// </summary>
public sealed class InboxParking
{
    private readonly InboxParkingStore _store;

    /// <summary>Initializes a new instance of the <see cref="InboxParking"/> class.</summary>
    /// <param name="dataSource">The database of the inbox tables.</param>
    /// <param name="options">The outbox options (schema and inbox table name).</param>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    public InboxParking(NpgsqlDataSource dataSource, OutboxOptions options)
        : this(dataSource, options, TimeProvider.System)
    {
    }

    internal InboxParking(NpgsqlDataSource dataSource, OutboxOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        _store = new InboxParkingStore(dataSource, options, timeProvider);
    }

    /// <summary>Lists the keys with records in the parked table, oldest first: one entry per (group, topic, partition, key).</summary>
    /// <param name="consumerGroup">Only this consumer group; <see langword="null"/> for all.</param>
    /// <param name="limit">The most keys to return.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The keys, each with its first record and how many are held behind it.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive.</exception>
    public Task<IReadOnlyList<ParkedInboxKey>> ListAsync(string? consumerGroup, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return _store.ListAsync(consumerGroup, limit, cancellationToken);
    }

    /// <summary>Gets the records of a key in the parked table, in offset order (the parked one first, then the held ones).</summary>
    /// <param name="consumerGroup">The consumer group.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="partition">The partition.</param>
    /// <param name="key">The key as <see cref="ParkedInboxKey.Key"/> shows it; <see langword="null"/> for the records without a key.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The records; empty when the key has none.</returns>
    /// <exception cref="ArgumentException">The key starts with <c>base64:</c> and the rest is not base64.</exception>
    public Task<IReadOnlyList<ParkedInboxRecord>> GetAsync(string consumerGroup, string topic, int partition, string? key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(consumerGroup);
        ArgumentNullException.ThrowIfNull(topic);
        return _store.GetAsync(consumerGroup, topic, partition, ParkedKeyText.Parse(key), cancellationToken);
    }

    /// <summary>
    /// Asks the consumer that owns the partition to handle the key's records again, in offset order, each in its own
    /// inbox transaction (an id already handled is skipped as a duplicate), attempts counted from 1 again. Each record
    /// leaves the table in the transaction that handles it; when all are done the key is released and its new records
    /// flow again (they stay held until then). If a record fails for good again it is parked again, with the records
    /// after it still held. Records without a key: every such record of the partition is replayed.
    /// </summary>
    /// <param name="consumerGroup">The consumer group.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="partition">The partition.</param>
    /// <param name="key">The key as <see cref="ParkedInboxKey.Key"/> shows it.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns><see langword="true"/> when the key had records in the table (the replay is asked for); otherwise <see langword="false"/>.</returns>
    /// <exception cref="ArgumentException">The key starts with <c>base64:</c> and the rest is not base64.</exception>
    public Task<bool> ReplayAsync(string consumerGroup, string topic, int partition, string? key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(consumerGroup);
        ArgumentNullException.ThrowIfNull(topic);
        return _store.ReplayAsync(consumerGroup, topic, partition, ParkedKeyText.Parse(key), cancellationToken);
    }

    /// <summary>
    /// Deletes the key's first record from the parked table (it is not handled; a copy stays on the dead-letter topic
    /// when that accepted it) and asks for a replay of the records held behind it, as <see cref="ReplayAsync"/> does.
    /// </summary>
    /// <param name="consumerGroup">The consumer group.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="partition">The partition.</param>
    /// <param name="key">The key as <see cref="ParkedInboxKey.Key"/> shows it.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns><see langword="true"/> when a record was discarded; <see langword="false"/> when the key had none.</returns>
    /// <exception cref="ArgumentException">The key starts with <c>base64:</c> and the rest is not base64.</exception>
    public Task<bool> DiscardAsync(string consumerGroup, string topic, int partition, string? key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(consumerGroup);
        ArgumentNullException.ThrowIfNull(topic);
        return _store.DiscardAsync(consumerGroup, topic, partition, ParkedKeyText.Parse(key), cancellationToken);
    }
}
