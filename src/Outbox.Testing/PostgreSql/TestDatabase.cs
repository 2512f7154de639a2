namespace Outbox.Testing;

/// <summary>
/// A database that a <see cref="PostgresServer"/> created, with names of its own for what PostgreSQL keeps per
/// cluster: a CDC test that uses <see cref="SlotName"/> never meets the replication slot of another test, or of
/// another test process, on the same server.
/// </summary>
/// <example>
/// <code>
/// var database = await postgres.CreateTestDatabaseAsync("orders");
/// services.AddOutbox(...)
///     .UsePostgreSql(database.ConnectionString)
///     .AddCdcRelay(o =>
///     {
///         o.SlotName = database.SlotName;
///         o.PublicationName = database.PublicationName;
///     });
/// </code>
/// </example>
public sealed class TestDatabase
{
    internal TestDatabase(string name, string connectionString)
    {
        Name = name;
        ConnectionString = connectionString;
    }

    /// <summary>Gets the database's name.</summary>
    /// <value>A unique name made of lower-case letters, digits and <c>_</c>, such as <c>orders_0123456789ab</c>.</value>
    public string Name { get; }

    /// <summary>Gets a connection string to the database (pooled, with the server's user).</summary>
    public string ConnectionString { get; }

    /// <summary>Gets a replication slot name that belongs to this database alone.</summary>
    /// <value><see cref="Name"/> followed by <c>_slot</c>: unique on the server, since database names are, and a valid
    /// slot name (at most 63 lower-case letters, digits and <c>_</c>).</value>
    /// <remarks>Replication slots are cluster-wide, so two tests that use one fixed name (such as the CDC relay's
    /// default) on a shared server take each other's slot. A slot lives in its database: dropping the database (as an
    /// <see cref="PostgresServerKind.Environment"/> server does on dispose) drops its inactive slots too.</remarks>
    public string SlotName => Name + "_slot";

    /// <summary>Gets a publication name for this database.</summary>
    /// <value><see cref="Name"/> followed by <c>_pub</c>.</value>
    /// <remarks>Publications belong to one database, so this name cannot collide across databases either way; it is here
    /// so that slot and publication are named alike.</remarks>
    public string PublicationName => Name + "_pub";

    /// <summary>Returns <see cref="Name"/>.</summary>
    /// <returns>The database's name.</returns>
    public override string ToString() => Name;
}
