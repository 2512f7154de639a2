using Microsoft.Extensions.Hosting;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Runs a <see cref="CdcRelay"/>: its checks at start, then its iterations in the background until stopped, waiting
/// between them as long as each one asks. Without a relay (<c>AddCdcRelay()</c> with <c>UsePostgreSqlDatabases</c>,
/// where the fleet runs one relay per database) it does nothing.
/// </summary>
internal sealed class CdcRelayService(CdcRelay? relay, TimeProvider timeProvider) : IHostedService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    /// <summary>Gets the relay this service runs.</summary>
    internal CdcRelay Relay => relay ?? throw new InvalidOperationException("This CDC relay service runs no relay: the fleet of UsePostgreSqlDatabases runs one per database.");

    /// <summary>Gets the progress of the current (or last) replication session, for diagnostics.</summary>
    internal CdcProgress? SessionProgress => relay?.SessionProgress;

    /// <summary>Gets the payload bytes the current (or last) session holds decoded and not settled, now and at most, for diagnostics.</summary>
    internal (long Now, long Peak)? SessionBytesInFlight => relay?.SessionBytesInFlight;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (relay is null)
        {
            return;
        }

        await relay.CheckAtStartAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stopping.Dispose();
    }

    /// <summary>Runs iterations until stopped.</summary>
    internal async Task RunAsync(CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(relay);
        while (!stoppingToken.IsCancellationRequested)
        {
            var delay = await relay.RunOnceAsync(stoppingToken).ConfigureAwait(false);
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, timeProvider, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        relay.Monitor.Set(CdcRelayState.Stopped);
    }
}
