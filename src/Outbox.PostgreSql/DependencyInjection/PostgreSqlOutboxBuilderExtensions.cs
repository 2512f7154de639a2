using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Outbox.PostgreSql;
using Outbox.PostgreSql.Inbox;

namespace Outbox;

/// <summary>Registers the PostgreSQL store.</summary>
public static class PostgreSqlOutboxBuilderExtensions
{
    /// <summary>Stores the outbox in PostgreSQL: the schema, the ADO.NET/Dapper <see cref="OutboxWriter"/>, and the store the relays use.</summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="connectionString">The connection string of the database that holds the outbox tables.</param>
    /// <param name="configure">Configures further options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IOutboxBuilder UsePostgreSql(this IOutboxBuilder builder, string connectionString, Action<PostgreSqlOutboxOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<PostgreSqlOutboxOptions>()
            .Configure(o =>
            {
                o.ConnectionString = connectionString;
                configure?.Invoke(o);
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlOutboxOptions>, PostgreSqlOutboxOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlOutboxOptions>, PostgreSqlOutboxOptionsRulesValidator>());
        services.TryAddSingleton<OutboxDataSource>();
        services.TryAddSingleton(sp => new OutboxWriter(sp.GetRequiredService<OutboxMessageFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, OutboxSchemaInitializer>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OutboxBacklogMonitor>();
        services.TryAddSingleton<CdcSlotLagGauge>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxHealthProbe, BacklogHealthProbe>());
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
