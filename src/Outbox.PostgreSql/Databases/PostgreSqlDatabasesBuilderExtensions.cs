using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Outbox.PostgreSql;
using Outbox.PostgreSql.Databases;
using Outbox.PostgreSql.Inbox;
using Outbox.Providers;

namespace Outbox;

/// <summary>Registers an outbox that spans many PostgreSQL databases (database per tenant, sharded clusters).</summary>
public static class PostgreSqlDatabasesBuilderExtensions
{
    /// <summary>
    /// Stores the outbox in each of a static list of PostgreSQL databases (<see cref="OutboxDatabasesOptions.Add"/>). The
    /// write path writes to whatever database the <c>DbContext</c> or connection uses; <c>AddPollingRelay()</c> relays every
    /// database, sharing the work with the other instances database by database and lane by lane. Instead of
    /// <c>UsePostgreSql(...)</c>; see docs/multi-database.md.
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="configure">Adds the databases and sets the options.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException"><c>UsePostgreSql(...)</c> was called too.</exception>
    public static IOutboxBuilder UsePostgreSqlDatabases(this IOutboxBuilder builder, Action<OutboxDatabasesOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Register(builder, configure);
    }

    /// <summary>
    /// Stores the outbox in the databases an application service returns, which may change at run time (tenants created and
    /// deleted): an <see cref="OutboxDatabaseSet"/> the application changes, or an <see cref="IOutboxDatabaseSource"/> of its own
    /// (read again every <see cref="OutboxDatabasesOptions.RefreshInterval"/>). See
    /// <see cref="UsePostgreSqlDatabases(IOutboxBuilder, Action{OutboxDatabasesOptions})"/>.
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="source">Returns the source (called once, at host start).</param>
    /// <param name="configure">Sets further options.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException"><c>UsePostgreSql(...)</c> was called too.</exception>
    public static IOutboxBuilder UsePostgreSqlDatabases(
        this IOutboxBuilder builder, Func<IServiceProvider, IOutboxDatabaseSource> source, Action<OutboxDatabasesOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Register(builder, o =>
        {
            o.SourceFactory = source;
            configure?.Invoke(o);
        });
    }

    private static IOutboxBuilder Register(IOutboxBuilder builder, Action<OutboxDatabasesOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(OutboxDataSource)))
        {
            throw new OutboxConfigurationException(BothMessage);
        }

        services.AddOptions<OutboxDatabasesOptions>().Configure(configure).ValidateOnStart();
        if (services.Any(d => d.ServiceType == typeof(OutboxFleetRegistration)))
        {
            return builder;
        }

        services.AddSingleton(new OutboxFleetRegistration());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxDatabasesOptions>, OutboxDatabasesOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new OutboxWriter(sp.GetRequiredService<OutboxRowFactory>()));
        services.TryAddSingleton<OutboxRelayFleet>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<OutboxRelayFleet>());
        services.TryAddSingleton(sp => new OutboxFleetMonitor(
            sp.GetRequiredService<OutboxRelayFleet>(), sp.GetRequiredService<IOptions<OutboxOptions>>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxHealthProbe, FleetHealthProbe>());

        // The inbox works through the consumer's DbContext: its tables are in whichever database that context uses.
        services.AddPostgreSqlInboxStore();
        return builder;
    }

    /// <summary>The refusal of both <c>UsePostgreSql</c> and <c>UsePostgreSqlDatabases</c>.</summary>
    internal const string BothMessage =
        "UsePostgreSql(...) and UsePostgreSqlDatabases(...) are both called: an outbox is stored either in one database or in many. " +
        "Call UsePostgreSqlDatabases(...) and list every database there (the one of UsePostgreSql included).";
}

/// <summary>Marks a process whose outbox spans many databases (<c>UsePostgreSqlDatabases</c>).</summary>
internal sealed class OutboxFleetRegistration
{
    /// <summary>Whether <paramref name="services"/> (a provider) belongs to such a process.</summary>
    public static bool In(IServiceProvider services) => services.GetService(typeof(OutboxFleetRegistration)) is not null;
}
