using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// In the host's starting phase (<see cref="IHostedLifecycleService.StartingAsync"/>, which the host runs for every
/// lifecycle service before it starts any hosted service), so that the relays, Debezium's publication and the inbox
/// consumers find the schema whatever the order of the builder calls that registered them: creates the outbox schema when <see cref="PostgreSqlOutboxOptions.EnsureSchemaOnStart"/> is set, in
/// the variant the process's relay mode needs (<see cref="RelayModeRegistration"/>: without the commit-order trigger for
/// the CDC relay and Debezium); then, when the polling relay is registered, checks that the schema gives it commit order, so a schema
/// made for CDC fails the host with a message that names the fix instead of reordering events.
/// </summary>
internal sealed class OutboxSchemaInitializer(
    IServiceProvider services,
    OutboxDataSource dataSource,
    IOptions<OutboxOptions> outboxOptions,
    IOptions<PostgreSqlOutboxOptions> options,
    RelayModeRegistration? relayMode = null,
    ILogger<OutboxSchemaInitializer>? logger = null) : IHostedLifecycleService
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var commitOrder = RelayModeRegistration.CommitOrderOf(relayMode);
        if (options.Value.EnsureSchemaOnStart)
        {
            await OutboxSchema.EnsureCreatedAsync(dataSource.DataSource, outboxOptions.Value, commitOrder, options.Value.UnknownCommitOrder, cancellationToken).ConfigureAwait(false);
            var names = new OutboxTableNames(outboxOptions.Value);
            Log.SchemaEnsured(_logger, names.Messages, commitOrder);

            // Never dropped here: another instance may still run a polling relay on this table (a rolling switch).
            if (commitOrder == OutboxCommitOrder.WriteAheadLog
                && await OutboxSchema.HasCommitTriggerAsync(dataSource.DataSource, outboxOptions.Value, cancellationToken).ConfigureAwait(false))
            {
                Log.CommitTriggerKept(_logger, names.CommitTriggerName, names.Messages, OutboxSchema.DropCommitTriggerStatement(outboxOptions.Value));
            }
        }

        if (services.GetService<PostgreSqlPollingStore>() is { } polling)
        {
            try
            {
                await polling.CheckCommitOrderAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException
                                       || (ex is NpgsqlException and not PostgresException)
                                       || ex is PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown })
            {
                // The server is unreachable or restarting (57P03 while it starts or stops, 57P01/57P02 when it closes the
                // connection): the relay checks again before it takes a lane, so the host need not fail its start.
                Log.CommitOrderCheckDeferred(_logger, ex);
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
