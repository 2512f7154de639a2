using Npgsql;
using Outbox.PostgreSql;

namespace Outbox;

/// <summary>Options of the PostgreSQL store.</summary>
public sealed class PostgreSqlOutboxOptions
{
    /// <summary>Gets or sets the connection string of the database that holds the outbox tables.</summary>
    /// <value>No default: required, unless the outbox uses the application's <see cref="NpgsqlDataSource"/>
    /// (<c>UsePostgreSql()</c> or <c>UsePostgreSql(serviceProvider => dataSource)</c>).</value>
    public string ConnectionString { get; set; } = "";

    /// <summary>Gets or sets the connection string of the CDC relay's replication connection: a role with the
    /// <c>REPLICATION</c> attribute (or a superuser) on the outbox's database, so that the application's role needs none.</summary>
    /// <value>The default is <see langword="null"/>: <see cref="ConnectionString"/>. Required with the CDC relay when the
    /// outbox uses the application's <see cref="NpgsqlDataSource"/> (a data source cannot open replication connections).</value>
    public string? ReplicationConnectionString { get; set; }

    /// <summary>Gets or sets the application's data source, when the outbox uses it instead of <see cref="ConnectionString"/>.</summary>
    internal Func<IServiceProvider, NpgsqlDataSource>? DataSourceFactory { get; set; }

    /// <summary>Gets or sets whether <c>AddCdcRelay()</c> is registered (it needs a replication connection string).</summary>
    internal bool CdcRelayRegistered { get; set; }

    /// <summary>Gets the connection string the CDC relay replicates with.</summary>
    internal string? EffectiveReplicationConnectionString =>
        !string.IsNullOrEmpty(ReplicationConnectionString) ? ReplicationConnectionString : string.IsNullOrEmpty(ConnectionString) ? null : ConnectionString;

    /// <summary>
    /// Gets or sets a value indicating whether the outbox schema is created (idempotently) when the host starts: in its
    /// starting phase, before any hosted service starts, so the relays and the inbox consumers find it whatever the
    /// order of the builder calls.
    /// </summary>
    /// <value>The default is <see langword="false"/>: production schemas are usually managed by migrations or
    /// <see cref="OutboxSchema.CreateScript(OutboxOptions, OutboxCommitOrder)"/>. When set, the schema is created without the
    /// commit-order trigger if only <c>AddCdcRelay()</c> or <c>UseDebezium()</c> is registered (an existing trigger is
    /// kept, and a warning names the statement that drops it); with <c>AddPollingRelay()</c> the trigger is created, and
    /// rows written without it are numbered ahead of every later row.</value>
    public bool EnsureSchemaOnStart { get; set; }

    /// <summary>
    /// Gets or sets what happens to rows written without the commit-order trigger whose commit order PostgreSQL did not
    /// record (<c>track_commit_timestamp</c> off) when they are published from the table: by the CDC relay when it
    /// creates a slot, or numbered for the polling relay by <see cref="EnsureSchemaOnStart"/>.
    /// </summary>
    /// <value>The default is <see cref="OutboxUnknownCommitOrder.Refuse"/>: the CDC relay or the host start fails with a
    /// message that names the keys, rather than guess an order.</value>
    public OutboxUnknownCommitOrder UnknownCommitOrder { get; set; }
}
