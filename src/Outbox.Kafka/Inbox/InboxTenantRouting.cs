namespace Outbox;

/// <summary>
/// Routes the inbox of one consumer group by tenant (<see cref="ConsumerBuilderExtensions.RouteByTenant"/>): each record
/// names its tenant in a header, and its inbox transaction (the inbox row, the partition's stored offset, the handlers'
/// changes, the outbox rows they add) runs in that tenant's database, so the effects, the dedup rows and the offsets of
/// a tenant live together.
/// </summary>
public sealed class InboxTenantRouting
{
    /// <summary>The header the relay of many databases (<c>UsePostgreSqlDatabases</c>) sets to the database's name.</summary>
    public const string DatabaseHeader = "outbox-database";

    /// <summary>Gets or sets the header that names a record's tenant. A record without it (or with an empty value) is handled in the consumer's own database, as without routing.</summary>
    /// <value>The default is <c>outbox-database</c>, which the relay of many databases sets to the name of the database the event was written in.</value>
    public string HeaderName { get; set; } = DatabaseHeader;

    /// <summary>
    /// Gets or sets the callback that points a new service scope of the consumer at a tenant's database: it runs before
    /// the consumer resolves its <c>DbContext</c> from the scope (for example, it sets the scoped tenant service your
    /// <c>AddDbContext</c> reads the connection string from). It returns <see langword="false"/> for a tenant the
    /// application does not know: that record goes to the dead-letter topic (reason <c>unknown-tenant</c>) and the
    /// partition goes on. Required.
    /// </summary>
    public Func<IServiceProvider, string, bool>? UseTenant { get; set; }

    /// <summary>
    /// Gets or sets the callback that lists every tenant (from a new service scope): the inbox cleanup deletes old inbox
    /// rows in each tenant's database as well as in the consumer's own. Required.
    /// </summary>
    public Func<IServiceProvider, CancellationToken, ValueTask<IReadOnlyCollection<string>>>? ListTenants { get; set; }

    /// <summary>Gets or sets a value indicating whether <see cref="ConsumerBuilderExtensions.RouteByTenant"/> was called for the group.</summary>
    internal bool Enabled { get; set; }
}
