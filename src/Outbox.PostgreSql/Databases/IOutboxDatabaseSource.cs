namespace Outbox;

/// <summary>
/// The databases an outbox that spans many databases serves now (<c>UsePostgreSqlDatabases(source)</c>): for example the
/// tenants of a database-per-tenant application, read from its catalog. The relay fleet asks again every
/// <see cref="OutboxDatabasesOptions.RefreshInterval"/> (and at once when an <see cref="OutboxDatabaseSet"/> changes), starts
/// relaying the databases that appeared and stops, releasing their leases, the ones that went away.
/// </summary>
public interface IOutboxDatabaseSource
{
    /// <summary>Returns the databases to serve now. Names must be unique; a failure keeps the last known set running
    /// (logged, and reported by the health check).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The databases.</returns>
    ValueTask<IReadOnlyCollection<OutboxDatabase>> GetDatabasesAsync(CancellationToken cancellationToken);
}
