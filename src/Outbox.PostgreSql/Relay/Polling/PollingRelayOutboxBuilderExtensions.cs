using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Outbox.PostgreSql;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox;

/// <summary>Registers the polling relay.</summary>
public static class PollingRelayOutboxBuilderExtensions
{
    private const int PollingLingerMs = 1;

    /// <summary>
    /// Adds the polling relay as a hosted service: it leases lanes of the outbox table with the other instances,
    /// publishes their rows in commit order through the transport (<c>UseKafka</c>) and deletes them (or marks them
    /// published) once acknowledged. Needs <c>UsePostgreSql</c> and a transport. Options are validated at host start.
    /// Per-key order needs the commit-order trigger: the schema initializer creates it and checks it at host start.
    /// With <c>UsePostgreSqlDatabases(...)</c> it relays every database of the outbox (see docs/multi-database.md).
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="configure">Configures the relay; the defaults suit most applications.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException"><c>AddCdcRelay()</c> or <c>UseDebezium()</c> was called too: every event would be published twice.</exception>
    public static IOutboxBuilder AddPollingRelay(this IOutboxBuilder builder, Action<PollingRelayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        RelayModeRegistration.Register(services, RelayMode.Polling);
        var options = services.AddOptions<PollingRelayOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        // The relay gathers its batches itself (PollingRelayOptions.Linger), so the producer need not wait for more:
        // linger.ms = 1 (instead of 5). An application's own KafkaOptions.Producer.LingerMs wins.
        services.Configure<PublisherDefaults>(d => d.LingerMs ??= PollingLingerMs);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PollingRelayOptions>, PollingRelayOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PollingRelayOptions>, PollingRelayOptionsRulesValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new PostgreSqlPollingStore(
            (sp.GetService<OutboxDataSource>() ?? throw new OutboxConfigurationException("AddPollingRelay() needs the PostgreSQL store: call UsePostgreSql(connectionString) on the outbox builder.")).DataSource,
            sp.GetRequiredService<IOptions<OutboxOptions>>().Value,
            sp.GetRequiredService<IOptions<PollingRelayOptions>>().Value.PublishedRetention is not null));
        services.TryAddSingleton(sp => new PollingRelay(
            sp.GetRequiredService<PostgreSqlPollingStore>(),
            sp.GetService<IOutboxPublisher>() ?? throw new OutboxConfigurationException("AddPollingRelay() needs a transport to publish to: call UseKafka(...) on the outbox builder."),
            sp.GetRequiredService<IOptions<PollingRelayOptions>>().Value,
            sp.GetRequiredService<IOptions<OutboxOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<RelayTelemetry>(),
            sp.GetService<ILogger<PollingRelay>>() ?? NullLogger<PollingRelay>.Instance));
        services.TryAddSingleton<RelayTelemetry>();
        services.TryAddSingleton(sp => OutboxFleetRegistration.In(sp)
            ? throw new OutboxConfigurationException(
                "PollingRelayMonitor watches the polling relay of UsePostgreSql's one database; with UsePostgreSqlDatabases(...) each database has its own relay: resolve OutboxFleetMonitor instead.")
            : new PollingRelayMonitor(sp.GetRequiredService<PollingRelay>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxHealthProbe, PollingRelayHealthProbe>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SingleDatabasePollingRelayHost>());
        return builder;
    }
}
