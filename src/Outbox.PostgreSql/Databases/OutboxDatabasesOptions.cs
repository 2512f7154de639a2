using Outbox.PostgreSql;
namespace Outbox;

/// <summary>Options of an outbox that spans many PostgreSQL databases (<c>UsePostgreSqlDatabases</c>).</summary>
public sealed class OutboxDatabasesOptions
{
    /// <summary>Gets the databases of a static list (<see cref="Add(string, string)"/>). Leave it empty when the databases
    /// come from an <see cref="IOutboxDatabaseSource"/>.</summary>
    public IList<OutboxDatabase> Databases { get; } = [];

    /// <summary>Adds a database to the static list.</summary>
    /// <param name="name">The database's name (see <see cref="OutboxDatabase"/>).</param>
    /// <param name="connectionString">Its connection string.</param>
    /// <returns>These options, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException">The name or the connection string is invalid.</exception>
    public OutboxDatabasesOptions Add(string name, string connectionString)
    {
        Databases.Add(new OutboxDatabase(name, connectionString));
        return this;
    }

    /// <summary>Gets or sets how often the relay fleet reads the databases from the source again.</summary>
    /// <value>The default is 5 seconds; at least 100 ms. An <see cref="OutboxDatabaseSet"/> is followed at once anyway.</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how many databases the polling relay of this process listens to (<c>LISTEN</c>, one connection each, for
    /// new rows within milliseconds). The others are found through the server's statistics instead (see
    /// <see cref="ActivityCheckInterval"/>) and polled every <see cref="NotListeningPollInterval"/> anyway, so that a
    /// thousand tenants do not mean a thousand idle <c>LISTEN</c> connections per instance.
    /// </summary>
    /// <value>The default is 16; 0 polls every database. The first databases added are the ones listened to.</value>
    public int MaxListeningDatabases { get; set; } = 16;

    /// <summary>
    /// Gets or sets how often the relay of a database it does not listen to polls it anyway. Between polls, one query per
    /// cluster every <see cref="ActivityCheckInterval"/> (<c>pg_stat_database</c>: rows inserted per database) tells which
    /// of these databases had new rows, and their relays poll at once.
    /// </summary>
    /// <value>The default is 30 seconds; at least 100 ms. Without the server's statistics (<c>track_counts = off</c>) new
    /// rows of such a database wait up to this long.</value>
    public TimeSpan NotListeningPollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how often each cluster's statistics are read for the databases not listened to (see <see cref="NotListeningPollInterval"/>).</summary>
    /// <value>The default is 1 second; at least 100 ms. PostgreSQL publishes a session's counts at most once a second, so
    /// new rows of such a database are usually found within one to two seconds. A session that published its counts less
    /// than a second before its last commit and then went idle publishes them only after PostgreSQL's idle-statistics
    /// timeout (10 s); the relay keeps polling a database for 10 s after its count last moved, which covers the end of
    /// a burst, but a row committed alone less than a second after a session's earlier, insert-free transaction can
    /// wait about 10 s.</value>
    public TimeSpan ActivityCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the connection pool size of each database's pool, unless its connection string sets
    /// <c>Maximum Pool Size</c>: the relay of one database needs at most two drain cycles, a heartbeat, a poll and a
    /// listener at once.</summary>
    /// <value>The default is 5; at least 2.</value>
    public int MaxPoolSizePerDatabase { get; set; } = 5;

    /// <summary>
    /// Gets or sets how many drain cycles of the polling relay run at once in this process over all its databases (a
    /// drain cycle claims a batch, publishes it and settles it; it holds a connection of its database while it claims and
    /// while it settles). The heartbeats, polls and listeners are not counted: a heartbeat never waits behind drains. Cycles
    /// wait in the order they asked, so a busy database does not starve the others.
    /// </summary>
    /// <value>The default is 16; at least 1. Each database runs at most two cycles at once anyway.</value>
    public int MaxConcurrentDrainCycles { get; set; } = 16;

    /// <summary>Gets or sets whether the outbox schema is created (idempotently) in each database: at host start for the
    /// databases known then, and before a database added later is relayed.</summary>
    /// <value>The default is <see langword="false"/>. A database whose schema cannot be created is not relayed; the fleet
    /// tries again at every refresh and the health check names it meanwhile.</value>
    public bool EnsureSchemaOnStart { get; set; }

    /// <summary>Gets or sets what the CDC relay does with rows written without the commit-order trigger whose commit order
    /// PostgreSQL did not record, in each database (see <see cref="PostgreSqlOutboxOptions.UnknownCommitOrder"/>).</summary>
    /// <value>The default is <see cref="OutboxUnknownCommitOrder.Refuse"/>.</value>
    public OutboxUnknownCommitOrder UnknownCommitOrder { get; set; }

    /// <summary>Gets or sets the source of the databases, when they change at run time.</summary>
    internal Func<IServiceProvider, IOutboxDatabaseSource>? SourceFactory { get; set; }
}
