using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using Outbox.PostgreSql;
using Outbox.PostgreSql.Databases;
using Outbox.PostgreSql.Inbox;
using Outbox.Providers;

namespace Outbox;

/// <summary>Registers the PostgreSQL store.</summary>
public static class PostgreSqlOutboxBuilderExtensions
{
    /// <summary>Stores the outbox in PostgreSQL: the schema, the ADO.NET/Dapper <see cref="OutboxWriter"/>, and the store the relays use.</summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="connectionString">The connection string of the database that holds the outbox tables.</param>
    /// <param name="configure">Configures further options.</param>
    /// <returns>The builder, for chaining.</returns>
#pragma warning disable RS0027 // The overloads differ in the type of their second parameter (a connection string or a data source), never in optional ones.
    public static IOutboxBuilder UsePostgreSql(this IOutboxBuilder builder, string connectionString, Action<PostgreSqlOutboxOptions>? configure = null) =>
        Register(builder, o =>
        {
            o.ConnectionString = connectionString;
            configure?.Invoke(o);
        });
#pragma warning restore RS0027

    /// <summary>
    /// Stores the outbox in PostgreSQL through the application's <see cref="NpgsqlDataSource"/> registered in the service
    /// provider (for example by <c>services.AddNpgsqlDataSource(...)</c>, with its password provider, multiple hosts and
    /// pool settings): the outbox opens no pool of its own. The CDC relay needs
    /// <see cref="PostgreSqlOutboxOptions.ReplicationConnectionString"/> as well.
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IOutboxBuilder UsePostgreSql(this IOutboxBuilder builder) => UsePostgreSql(builder, ApplicationDataSource);

    /// <summary>The application's registered <see cref="NpgsqlDataSource"/>: the data source of <c>UsePostgreSql()</c>.</summary>
    /// <param name="services">The application's services.</param>
    /// <returns>The registered data source.</returns>
    /// <exception cref="OutboxConfigurationException">None is registered.</exception>
    public static NpgsqlDataSource ApplicationDataSource(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetService<NpgsqlDataSource>()
            ?? throw new OutboxConfigurationException(
                "UsePostgreSql() uses the application's NpgsqlDataSource, and none is registered: call services.AddNpgsqlDataSource(connectionString) " +
                "(package Npgsql.DependencyInjection), register one with services.AddSingleton(dataSource), or pass a connection string to UsePostgreSql(connectionString).");
    }

    /// <summary>
    /// Stores the outbox in PostgreSQL through a data source the application provides (not disposed by the outbox).
    /// The CDC relay needs <see cref="PostgreSqlOutboxOptions.ReplicationConnectionString"/> as well.
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="dataSource">Returns the data source of the database that holds the outbox tables
    /// (<see cref="ApplicationDataSource"/>: the registered one).</param>
    /// <returns>The builder, for chaining.</returns>
    public static IOutboxBuilder UsePostgreSql(this IOutboxBuilder builder, Func<IServiceProvider, NpgsqlDataSource> dataSource) =>
        UsePostgreSql(builder, dataSource, static _ => { });

    /// <summary>
    /// Stores the outbox in PostgreSQL through a data source the application provides (not disposed by the outbox), with
    /// further options (for the CDC relay: <see cref="PostgreSqlOutboxOptions.ReplicationConnectionString"/>).
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="dataSource">Returns the data source of the database that holds the outbox tables
    /// (<see cref="ApplicationDataSource"/>: the registered one).</param>
    /// <param name="configure">Configures further options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IOutboxBuilder UsePostgreSql(this IOutboxBuilder builder, Func<IServiceProvider, NpgsqlDataSource> dataSource, Action<PostgreSqlOutboxOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(dataSource);
        return Register(builder, o =>
        {
            o.DataSourceFactory = dataSource;
            configure(o);
        });
    }

    private static IOutboxBuilder Register(IOutboxBuilder builder, Action<PostgreSqlOutboxOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(OutboxFleetRegistration)))
        {
            throw new OutboxConfigurationException(PostgreSqlDatabasesBuilderExtensions.BothMessage);
        }

        services.AddOptions<PostgreSqlOutboxOptions>()
            .Configure(configure)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlOutboxOptions>, PostgreSqlOutboxOptionsRulesValidator>());
        services.TryAddSingleton<OutboxDataSource>();
        services.TryAddSingleton(sp => new OutboxWriter(sp.GetRequiredService<OutboxRowFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, OutboxSchemaInitializer>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OutboxBacklogMonitor>();
        services.TryAddSingleton(sp => new OutboxParking(sp.GetRequiredService<OutboxDataSource>().DataSource, sp.GetRequiredService<IOptions<OutboxOptions>>().Value));
        services.TryAddSingleton<CdcSlotLagGauge>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxHealthProbe, BacklogHealthProbe>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxHealthProbe, ParkingHealthProbe>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxHealthProbe, CdcHealthProbe>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MonitoringActivator>());
        services.AddPostgreSqlInboxStore();
        services.TryAddSingleton(sp => new InboxParking(
            sp.GetRequiredService<OutboxDataSource>().DataSource,
            sp.GetRequiredService<IOptions<OutboxOptions>>().Value,
            sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return builder;
    }
}
