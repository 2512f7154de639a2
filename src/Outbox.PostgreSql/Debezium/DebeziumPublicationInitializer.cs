using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Outbox.PostgreSql.Cdc;
using Outbox.PostgreSql.Replication;

namespace Outbox.PostgreSql.Debezium;

/// <summary>
/// Debezium mode's only work in the process: at host start, create the publication the connector reads (a second relay
/// in the process is refused when it is registered: <see cref="RelayModeRegistration"/>) (the generated configuration disables Debezium's own, which would publish updates too).
/// </summary>
internal sealed class DebeziumPublicationInitializer(
    IServiceProvider services,
    IOptions<DebeziumOptions> options,
    IOptions<OutboxOptions> outboxOptions,
    ILogger<DebeziumPublicationInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var debezium = options.Value;
        if (debezium.CreatePublicationOnStart)
        {
            var names = new CdcNames(outboxOptions.Value, debezium.SlotName, debezium.PublicationName, "DebeziumOptions.SlotName", "DebeziumOptions.PublicationName");
            var dataSource = services.GetService<OutboxDataSource>()
                             ?? throw new OutboxConfigurationException("UseDebezium() needs the PostgreSQL store: call UsePostgreSql(connectionString) on the outbox builder.");
            var store = new CdcStore(dataSource.DataSource, names);
            try
            {
                var facts = await store.ReadServerFactsAsync(cancellationToken).ConfigureAwait(false);
                if (!string.Equals(facts.WalLevel, "logical", StringComparison.Ordinal))
                {
                    Log.WalLevelNotLogical(logger, facts.WalLevel);
                }

                await new OutboxPublication(store, logger, "DebeziumOptions.PublicationName").EnsureAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                Log.PublicationDeferred(logger, ex);
            }
        }

        Log.DebeziumMode(logger, debezium.PublicationName, debezium.SlotName);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
