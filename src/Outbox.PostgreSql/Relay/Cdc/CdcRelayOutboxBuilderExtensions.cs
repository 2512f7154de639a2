using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Outbox.PostgreSql;
using Outbox.PostgreSql.Cdc;
using Outbox.PostgreSql.Replication;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox;

/// <summary>Registers the CDC relay.</summary>
public static class CdcRelayOutboxBuilderExtensions
{
    private const int CdcLingerMs = 1;

    /// <summary>
    /// Relays the outbox by logical replication (pgoutput) instead of polling: rows are streamed in commit order and
    /// published with the same record shape as the polling relay. Needs <c>wal_level = logical</c> and a user with the
    /// REPLICATION privilege (checked at host start); creates the publication and the replication slot when missing.
    /// Use it instead of <c>AddPollingRelay()</c>, with <c>UsePostgreSql(...)</c> and <c>UseKafka(...)</c>. See docs/relay-cdc.md.
    /// </summary>
    /// <param name="builder">The outbox builder.</param>
    /// <param name="configure">Configures the relay: slot and publication names, batching, retries.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <remarks>Resolve <see cref="CdcRelayMonitor"/> for the relay's state and the slot's health.</remarks>
    /// <exception cref="OutboxConfigurationException"><c>AddPollingRelay()</c> or <c>UseDebezium()</c> was called too: every event would be published twice.</exception>
    public static IOutboxBuilder AddCdcRelay(this IOutboxBuilder builder, Action<CdcRelayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        RelayModeRegistration.Register(services, RelayMode.Cdc);

        var options = services.AddOptions<CdcRelayOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        // The replication connection needs a connection string even when the outbox uses the application's data source.
        services.Configure<PostgreSqlOutboxOptions>(o => o.CdcRelayRegistered = true);

        // The relay forms its batches from what the stream decoded meanwhile, so the producer need not wait for more:
        // linger.ms = 1 (instead of 5) takes about 4 ms off every event at low rates and kept up at 200,000 events
        // (docs/relay-cdc.md, Measured). An application's own KafkaOptions.Producer.LingerMs wins.
        services.Configure<PublisherDefaults>(d => d.LingerMs = CdcLingerMs);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CdcRelayOptions>, CdcRelayOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CdcRelayOptions>, CdcRelayOptionsRulesValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var cdc = sp.GetRequiredService<IOptions<CdcRelayOptions>>().Value;
            var names = new CdcNames(sp.GetRequiredService<IOptions<OutboxOptions>>().Value, cdc.SlotName, cdc.PublicationName);
            return new CdcStore(
                sp.GetRequiredService<OutboxDataSource>().DataSource, names, sp.GetService<IOptions<PostgreSqlOutboxOptions>>()?.Value.ReplicationConnectionString);
        });
        services.TryAddSingleton<RelayTelemetry>();
        services.TryAddSingleton(_ => new CdcAcknowledger());
        services.TryAddSingleton(sp => OutboxFleetRegistration.In(sp)
            ? throw new OutboxConfigurationException(
                "CdcRelayMonitor watches the CDC relay of UsePostgreSql's one database; with UsePostgreSqlDatabases(...) each database has its own relay: resolve OutboxFleetMonitor instead.")
            : new CdcRelayMonitor(
                () => sp.GetRequiredService<CdcStore>(),
                () => sp.GetService<CdcAcknowledger>()?.Published ?? 0));
        services.TryAddSingleton(sp =>
        {
            var publisher = sp.GetService<IOutboxPublisher>()
                            ?? throw new OutboxConfigurationException("AddCdcRelay() needs a broker: call UseKafka(...) on the outbox builder.");
            var postgreSql = sp.GetService<IOptions<PostgreSqlOutboxOptions>>()?.Value;
            var connectionString = postgreSql?.EffectiveReplicationConnectionString;
            if (postgreSql is null || string.IsNullOrWhiteSpace(connectionString))
            {
                throw new OutboxConfigurationException("AddCdcRelay() needs the PostgreSQL store: call UsePostgreSql(connectionString) on the outbox builder.");
            }

            // The log category stays the hosted service's: operators filter on it.
            ILogger logger = sp.GetService<ILogger<CdcRelayService>>() ?? NullLogger<CdcRelayService>.Instance;
            var store = sp.GetRequiredService<CdcStore>();
            var outboxOptions = sp.GetRequiredService<IOptions<OutboxOptions>>().Value;
            var options = sp.GetRequiredService<IOptions<CdcRelayOptions>>().Value;
            var replication = new CdcReplication(
                store,
                new CdcSlotManager(store, logger, postgreSql.UnknownCommitOrder),
                sp.GetRequiredService<CdcAcknowledger>(),
                new ParkingStore(sp.GetRequiredService<OutboxDataSource>().DataSource, outboxOptions),
                publisher,
                outboxOptions,
                options,
                connectionString,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<RelayTelemetry>(),
                logger);
            return new CdcRelay(replication, options, sp.GetRequiredService<CdcRelayMonitor>(), logger);
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, CdcRelayService>(sp => new CdcRelayService(
            OutboxFleetRegistration.In(sp) ? null : sp.GetRequiredService<CdcRelay>(),
            sp.GetRequiredService<TimeProvider>())));
        return builder;
    }
}
