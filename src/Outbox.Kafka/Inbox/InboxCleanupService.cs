using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>
/// Deletes a consumer group's inbox rows older than the retention, every interval. The rows only catch duplicates
/// the relay sends with a new offset (normally within seconds); replays of old offsets are stopped by the stored
/// offsets, which are never deleted.
/// </summary>
internal sealed class InboxCleanupService : BackgroundService
{
    /// <summary>Rows deleted per statement, so that a large backlog does not hold one long transaction.</summary>
    internal const int ChunkSize = 10_000;

    private readonly IServiceScopeFactory _scopes;
    private readonly IInboxStore _store;
    private readonly string _consumerGroup;
    private readonly Type _dbContextType;
    private readonly TimeSpan _retention;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly InboxTenantRouting? _routing;

    public InboxCleanupService(
        IServiceScopeFactory scopes,
        IInboxStore store,
        string consumerGroup,
        Type dbContextType,
        TimeSpan retention,
        TimeSpan interval,
        TimeProvider timeProvider,
        ILogger logger,
        InboxTenantRouting? routing = null)
    {
        _routing = routing;
        _scopes = scopes;
        _store = store;
        _consumerGroup = consumerGroup;
        _dbContextType = dbContextType;
        _retention = retention;
        _interval = interval;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>
    /// Deletes every row of the group handled before now minus the retention: in the consumer's own database and, with
    /// tenant routing, in each tenant's database (one tenant failing does not stop the others; the first error is
    /// thrown at the end).
    /// </summary>
    /// <returns>The number of rows deleted.</returns>
    internal async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var cutoff = _timeProvider.GetUtcNow() - _retention;
        var total = await DeleteAsync(null, cutoff, cancellationToken).ConfigureAwait(false);
        if (_routing is not null)
        {
            IReadOnlyCollection<string> tenants;
            var scope = _scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                tenants = await _routing.ListTenants!(scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
            }

            Exception? first = null;
            foreach (var tenant in tenants.Where(t => !string.IsNullOrEmpty(t)).Distinct(StringComparer.Ordinal))
            {
                try
                {
                    total += await DeleteAsync(tenant, cutoff, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    first ??= new InvalidOperationException($"The inbox cleanup of group '{_consumerGroup}' failed in the database of tenant '{tenant}': {ex.Message}", ex);
                }
            }

            if (first is not null)
            {
                throw first;
            }
        }

        Log.CleanedUp(_logger, total, _consumerGroup, cutoff);
        return total;
    }

    private async Task<int> DeleteAsync(string? tenant, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var total = 0;
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            if (tenant is not null && !_routing!.UseTenant!(scope.ServiceProvider, tenant))
            {
                return 0;
            }

            var db = (DbContext)scope.ServiceProvider.GetRequiredService(_dbContextType);
            int deleted;
            do
            {
                deleted = await _store.DeleteHandledBeforeAsync(db, _consumerGroup, cutoff, ChunkSize, cancellationToken).ConfigureAwait(false);
                total += deleted;
            }
            while (deleted == ChunkSize);
        }

        return total;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.CleanupFailed(_logger, ex, _consumerGroup, _interval);
            }

            try
            {
                await Task.Delay(_interval, _timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
