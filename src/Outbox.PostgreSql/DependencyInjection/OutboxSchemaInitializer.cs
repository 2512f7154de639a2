using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Outbox.PostgreSql;

/// <summary>Creates the outbox schema at host start when <see cref="PostgreSqlOutboxOptions.EnsureSchemaOnStart"/> is set.</summary>
internal sealed class OutboxSchemaInitializer(
    OutboxDataSource dataSource,
    IOptions<OutboxOptions> outboxOptions,
    IOptions<PostgreSqlOutboxOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        options.Value.EnsureSchemaOnStart
            ? OutboxSchema.EnsureCreatedAsync(dataSource.DataSource, outboxOptions.Value, cancellationToken)
            : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
