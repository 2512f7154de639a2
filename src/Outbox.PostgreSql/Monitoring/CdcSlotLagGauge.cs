using System.Diagnostics.Metrics;

namespace Outbox.PostgreSql;

/// <summary>
/// <c>outbox.cdc.slot.lag</c>, on the container's <c>Outbox.Relay</c> meter: bytes of WAL the CDC slot has not
/// confirmed. Read from <c>pg_replication_slots</c> at most once per refresh interval, in the background; a scrape
/// reports the cached value (<see cref="CachedReading{T}"/>).
/// </summary>
internal sealed class CdcSlotLagGauge
{
    private readonly IServiceProvider _services;
    private readonly CachedReading<CdcSlotStatus> _slot;

    public CdcSlotLagGauge(IServiceProvider services, IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        _services = services;
        _slot = new CachedReading<CdcSlotStatus>(ReadAsync, timeProvider);
        meterFactory.Create(OutboxDiagnostics.RelaySourceName).CreateObservableGauge(
            "outbox.cdc.slot.lag", Observe, "By", "WAL bytes between the server's current position and the CDC slot's confirmed position.");
    }

    private Task<CdcSlotStatus> ReadAsync(CancellationToken cancellationToken) =>
        ((CdcRelayMonitor)_services.GetService(typeof(CdcRelayMonitor))!).GetSlotStatusAsync(cancellationToken);

    private IEnumerable<Measurement<long>> Observe()
    {
        // No CDC relay in this container: no slot to report.
        if (_services.GetService(typeof(CdcRelayMonitor)) is null)
        {
            return [];
        }

        return _slot.Current() is { LagBytes: { } lag } slot
            ? [new Measurement<long>(lag, new KeyValuePair<string, object?>(MessagingAttributes.Slot, slot.SlotName))]
            : [];
    }
}
