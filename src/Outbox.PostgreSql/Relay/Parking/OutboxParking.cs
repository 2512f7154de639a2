using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// The operator's view of parked keys: when an event fails for good, the relay parks its key (aggregate type and id):
/// that event and every later event of the key wait in the outbox table, in order, while every other key flows. List
/// them, then replay a key (its events are published again, in order, the failed one first) or discard its failed event
/// (moved to the dead-letter table; the key's later events are published, in order). The <c>dotnet outbox parked</c>
/// commands do the same. Registered by <c>UsePostgreSql</c>; see docs/operations.md.
/// </summary>
public sealed class OutboxParking
{
    private readonly ParkingStore _store;

    /// <summary>Initializes a new instance of the <see cref="OutboxParking"/> class for the outbox tables of <paramref name="options"/>.</summary>
    /// <param name="dataSource">The outbox database.</param>
    /// <param name="options">The outbox options (schema and table names).</param>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    public OutboxParking(NpgsqlDataSource dataSource, OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        _store = new ParkingStore(dataSource, options);
    }

    /// <summary>Lists held keys, the longest held first.</summary>
    /// <param name="limit">The most keys returned.</param>
    /// <param name="includeRetrying">Whether keys waiting for an automatic retry are listed too, not only parked ones.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The keys.</returns>
    public async Task<IReadOnlyList<ParkedKey>> ListAsync(int limit = 100, bool includeRetrying = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return await _store.ListAsync(limit, includeRetrying, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gets a held key (parked or retrying), or <see langword="null"/> when the key is not held.</summary>
    /// <param name="aggregateType">The aggregate type.</param>
    /// <param name="aggregateId">The aggregate id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The key, or <see langword="null"/>.</returns>
    public Task<ParkedKey?> GetAsync(string aggregateType, string aggregateId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(aggregateType);
        ArgumentNullException.ThrowIfNull(aggregateId);
        return _store.GetAsync(aggregateType, aggregateId, cancellationToken);
    }

    /// <summary>
    /// Releases a held key: its waiting events are published again, in their order, the failed one first, with fresh
    /// attempts. The release briefly locks the outbox table against writers (SHARE ROW EXCLUSIVE), so that no event of
    /// the key committed meanwhile can be left behind or overtake.
    /// </summary>
    /// <param name="aggregateType">The aggregate type.</param>
    /// <param name="aggregateId">The aggregate id.</param>
    /// <param name="cancellationToken">Cancels the release; nothing changes then.</param>
    /// <returns><see langword="true"/> when the key was held and is released; <see langword="false"/> when it was not held.</returns>
    public async Task<bool> ReplayAsync(string aggregateType, string aggregateId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(aggregateType);
        ArgumentNullException.ThrowIfNull(aggregateId);
        return await _store.ReleaseAsync(aggregateType, aggregateId, operatorRelease: true, discard: false, cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <summary>
    /// Discards the failed event of a held key (it moves to the dead-letter table, where it can still be read, replayed or
    /// purged) and releases the key: its later events are published, in their order.
    /// </summary>
    /// <param name="aggregateType">The aggregate type.</param>
    /// <param name="aggregateId">The aggregate id.</param>
    /// <param name="cancellationToken">Cancels the discard; nothing changes then.</param>
    /// <returns><see langword="true"/> when the key was held; <see langword="false"/> when it was not.</returns>
    public async Task<bool> DiscardAsync(string aggregateType, string aggregateId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(aggregateType);
        ArgumentNullException.ThrowIfNull(aggregateId);
        return await _store.ReleaseAsync(aggregateType, aggregateId, operatorRelease: true, discard: true, cancellationToken).ConfigureAwait(false) is not null;
    }
}
