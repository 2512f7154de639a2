using System.Diagnostics.Metrics;

namespace Outbox.PostgreSql;

/// <summary>
/// <c>outbox.cdc.slot.lag</c>: bytes of WAL the CDC slot has not confirmed. Read from <c>pg_replication_slots</c> at
/// most once per refresh interval, in the background; a scrape reports the cached value.
/// </summary>
internal sealed class CdcSlotLagGauge : IDisposable
{
    private readonly IServiceProvider _services;
    private readonly TimeProvider _timeProvider;
    private readonly Meter _meter;
    private CdcSlotStatus? _last;
    private DateTimeOffset _sampledAt = DateTimeOffset.MinValue;
    private int _refreshing;

    public CdcSlotLagGauge(IServiceProvider services, TimeProvider timeProvider)
    {
        _services = services;
        _timeProvider = timeProvider;
        _meter = new Meter(OutboxDiagnostics.RelaySourceName);
        _meter.CreateObservableGauge("outbox.cdc.slot.lag", Observe, "By", "WAL bytes between the server's current position and the CDC slot's confirmed position.");
    }

    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<long>> Observe()
    {
        if (_services.GetService(typeof(CdcRelayMonitor)) is not CdcRelayMonitor monitor)
        {
            return [];
        }

        if (_timeProvider.GetUtcNow() - _sampledAt >= OutboxBacklogMonitor.RefreshInterval && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    Volatile.Write(ref _last, await monitor.GetSlotStatusAsync(CancellationToken.None).ConfigureAwait(false));
                    _sampledAt = _timeProvider.GetUtcNow();
                }
                catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
                {
                    // Keep the last value; the health check reports the problem.
                }
                finally
                {
                    Volatile.Write(ref _refreshing, 0);
                }
            });
        }

        return Volatile.Read(ref _last) is { LagBytes: { } lag } slot
            ? [new Measurement<long>(lag, new KeyValuePair<string, object?>(MessagingAttributes.Slot, slot.SlotName))]
            : [];
    }
}
