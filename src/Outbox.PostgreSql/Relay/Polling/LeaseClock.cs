namespace Outbox.Relay;

/// <summary>
/// This instance's own view of how long its leases last: from the moment a renewal was sent plus the lease duration,
/// minus a safety margin for clock drift. The database's fencing is what makes takeovers safe; this only stops an
/// instance that cannot reach the database from publishing rows that another instance may already own.
/// </summary>
internal sealed class LeaseClock(TimeProvider timeProvider, TimeSpan leaseDuration)
{
    private readonly TimeSpan _usable = leaseDuration - (leaseDuration / 10);
    private long _renewedAt = long.MinValue;

    /// <summary>Takes the timestamp to pass to <see cref="Renewed"/> when the renewal succeeds (taken before it is sent).</summary>
    public long Now() => timeProvider.GetTimestamp();

    public void Renewed(long sentAt) => Volatile.Write(ref _renewedAt, sentAt);

    public void Lost() => Volatile.Write(ref _renewedAt, long.MinValue);

    public bool IsValid
    {
        get
        {
            var renewedAt = Volatile.Read(ref _renewedAt);
            return renewedAt != long.MinValue && timeProvider.GetElapsedTime(renewedAt) < _usable;
        }
    }
}
