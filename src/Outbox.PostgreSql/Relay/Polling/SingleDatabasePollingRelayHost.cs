using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Outbox.PostgreSql;

namespace Outbox.Relay;

/// <summary>
/// The hosted service of <c>AddPollingRelay()</c>: runs the polling relay of <c>UsePostgreSql</c>'s one database, or
/// nothing when the outbox spans many databases (<c>UsePostgreSqlDatabases</c>: the fleet runs one relay per database),
/// whatever the order of the builder calls.
/// </summary>
internal sealed class SingleDatabasePollingRelayHost(IServiceProvider services) : IHostedService, IAsyncDisposable
{
    private PollingRelayHostedService? _host;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (OutboxFleetRegistration.In(services))
        {
            return Task.CompletedTask;
        }

        _host = new PollingRelayHostedService(
            services.GetRequiredService<PollingRelay>(),
            services.GetRequiredService<PostgreSqlPollingStore>(),
            services.GetRequiredService<TimeProvider>(),
            services.GetService<ILogger<PollingRelayHostedService>>() ?? NullLogger<PollingRelayHostedService>.Instance);
        return _host.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _host?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public ValueTask DisposeAsync() => _host?.DisposeAsync() ?? ValueTask.CompletedTask;
}
