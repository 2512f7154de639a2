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

    public InboxCleanupService(
        IServiceScopeFactory scopes,
        IInboxStore store,
        string consumerGroup,
        Type dbContextType,
        TimeSpan retention,
        TimeSpan interval,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _scopes = scopes;
        _store = store;
        _consumerGroup = consumerGroup;
        _dbContextType = dbContextType;
        _retention = retention;
        _interval = interval;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Deletes every row of the group handled before now minus the retention.</summary>
    /// <returns>The number of rows deleted.</returns>
    internal async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var cutoff = _timeProvider.GetUtcNow() - _retention;
        var total = 0;
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var db = (DbContext)scope.ServiceProvider.GetRequiredService(_dbContextType);
            int deleted;
            do
            {
                deleted = await _store.DeleteHandledBeforeAsync(db, _consumerGroup, cutoff, ChunkSize, cancellationToken).ConfigureAwait(false);
                total += deleted;
            }
            while (deleted == ChunkSize);
        }

        Log.CleanedUp(_logger, total, _consumerGroup, cutoff);
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
