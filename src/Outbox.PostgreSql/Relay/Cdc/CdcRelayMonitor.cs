using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Outbox.PostgreSql.Cdc;

namespace Outbox.PostgreSql;

/// <summary>
/// What the CDC relay of this process is doing and how its replication slot is: resolve it from the service provider
/// after <c>AddCdcRelay()</c> and call <see cref="CheckHealthAsync"/> from a health check.
/// </summary>
public sealed class CdcRelayMonitor
{
    private readonly Lock _gate = new();
    private readonly Func<CdcStore> _store;
    private readonly Func<long> _published;
    private CdcRelayState _state = CdcRelayState.Starting;
    private string? _lastError;
    private int _faultedChecks;

    internal CdcRelayMonitor(Func<CdcStore> store, Func<long> published)
    {
        _store = store;
        _published = published;
    }

    /// <summary>Gets what the relay is doing.</summary>
    public CdcRelayState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>Gets the last error, or <see langword="null"/> while the relay streams without one.</summary>
    public string? LastError
    {
        get
        {
            lock (_gate)
            {
                return _lastError;
            }
        }
    }

    /// <summary>Gets how many rows the broker acknowledged since this process started.</summary>
    public long PublishedCount => _published();

    /// <summary>Reads the slot's status from <c>pg_replication_slots</c>: lag, retained WAL, <c>wal_status</c>.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The slot's status (with <see cref="CdcSlotStatus.Exists"/> false when there is no such slot).</returns>
    /// <exception cref="Npgsql.NpgsqlException">The database could not be queried.</exception>
    public Task<CdcSlotStatus> GetSlotStatusAsync(CancellationToken cancellationToken = default) => _store().ReadSlotAsync(cancellationToken);

    /// <summary>
    /// Checks the relay's health: unhealthy when the relay is faulted or the slot is lost or missing, degraded while it
    /// retries after failures or when the slot's WAL is at risk (<c>wal_status = unreserved</c>), healthy otherwise.
    /// </summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The report; it never throws for database errors (they make the report unhealthy).</returns>
    public async Task<CdcRelayHealthReport> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        var state = State;
        var error = LastError;
        CdcSlotStatus slot;
        try
        {
            slot = await GetSlotStatusAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return Report(HealthStatus.Unhealthy, $"The slot's status could not be read: {ex.Message}", state, null, error);
        }

        if (state == CdcRelayState.Faulted)
        {
            return Report(HealthStatus.Unhealthy, $"The CDC relay is faulted: {error}", state, slot, error);
        }

        if (slot.IsLost)
        {
            return Report(HealthStatus.Unhealthy, $"Replication slot '{slot.SlotName}' was invalidated (wal_status = lost).", state, slot, error);
        }

        if (!slot.Exists)
        {
            return state == CdcRelayState.Starting || state == CdcRelayState.Retrying
                ? Report(HealthStatus.Degraded, $"Replication slot '{slot.SlotName}' does not exist yet ({state}).", state, slot, error)
                : Report(HealthStatus.Unhealthy, $"Replication slot '{slot.SlotName}' does not exist.", state, slot, error);
        }

        if (string.Equals(slot.WalStatus, "unreserved", StringComparison.Ordinal))
        {
            return Report(HealthStatus.Degraded, string.Create(CultureInfo.InvariantCulture,
                $"Replication slot '{slot.SlotName}' is unreserved: it is invalidated at the next checkpoint unless the relay catches up (lag {slot.LagBytes} bytes)."), state, slot, error);
        }

        if (state == CdcRelayState.Retrying)
        {
            return Report(HealthStatus.Degraded, $"The CDC relay is retrying: {error}", state, slot, error);
        }

        return Report(HealthStatus.Healthy, string.Create(CultureInfo.InvariantCulture,
            $"{state}; slot '{slot.SlotName}' lag {slot.LagBytes} bytes, {slot.RetainedWalBytes} bytes of WAL retained, wal_status {slot.WalStatus}."), state, slot, error);
    }

    /// <summary>Gets how many times the relay found itself faulted (it looks again after every retry delay).</summary>
    internal int FaultedChecks => Volatile.Read(ref _faultedChecks);

    internal void Set(CdcRelayState state, string? error = null)
    {
        lock (_gate)
        {
            _state = state;
            _lastError = error;
        }

        if (state == CdcRelayState.Faulted)
        {
            Interlocked.Increment(ref _faultedChecks);
        }
    }

    private static CdcRelayHealthReport Report(HealthStatus status, string description, CdcRelayState state, CdcSlotStatus? slot, string? error) =>
        new() { Status = status, Description = description, State = state, Slot = slot, LastError = error };
}
