namespace Outbox.Relay;

/// <summary>
/// The database side of the polling relay: lane leases, claims and fenced completion. Every write that depends on a
/// lease checks owner, epoch and expiry in the same statement, so an instance whose lease was taken over changes nothing.
/// </summary>
internal interface IPollingRelayStore
{
    /// <summary>Makes sure the lane rows 0..<paramref name="laneCount"/>-1 exist; returns the lanes at or above it that still hold rows.</summary>
    Task<IReadOnlyList<int>> PrepareAsync(int laneCount, CancellationToken cancellationToken);

    /// <summary>Records this instance as alive, renews the given leases and counts live instances.</summary>
    Task<LeaseRenewal> RenewAsync(string instanceId, IReadOnlyList<LaneLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>Leases up to <paramref name="count"/> free or expired lanes below <paramref name="laneCount"/> (<c>FOR UPDATE SKIP LOCKED</c>), bumping their epochs.</summary>
    Task<IReadOnlyList<LaneLease>> AcquireAsync(string instanceId, int count, int laneCount, IReadOnlyCollection<int> held, TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>Gives leases back so that other instances can take them at once.</summary>
    Task ReleaseAsync(string instanceId, IReadOnlyList<LaneLease> leases, CancellationToken cancellationToken);

    /// <summary>Removes this instance from the live instances (graceful shutdown).</summary>
    Task LeaveAsync(string instanceId, CancellationToken cancellationToken);

    /// <summary>Reads the next rows of a lane in commit order, leaving out the rows of held keys (parked, or retrying later).</summary>
    /// <param name="lane">The lane.</param>
    /// <param name="batchSize">The most rows.</param>
    /// <param name="maxBytes">The byte budget of the batch's payloads: the batch ends before the row that would pass it
    /// (the first row is always taken, however large).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    Task<LaneBatch> ClaimAsync(int lane, int batchSize, long maxBytes, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction, and only while <paramref name="lease"/> still holds: deletes (or marks published) the
    /// acknowledged rows, forgets the failures of <paramref name="retried"/> (rows that failed before and are published
    /// now), and records each key failure (its key retries later or is parked, per <paramref name="policy"/>).
    /// </summary>
    /// <returns><see langword="null"/> when the lease no longer holds (then nothing changed); else the outcome of each
    /// failure, in the order given.</returns>
    Task<IReadOnlyList<KeyFailureOutcome>?> CompleteAsync(
        string instanceId,
        LaneLease lease,
        IReadOnlyList<Guid> acknowledged,
        IReadOnlyList<Guid> retried,
        IReadOnlyList<KeyFailure> failures,
        KeyRetryPolicy policy,
        CancellationToken cancellationToken);

    /// <summary>Returns the lanes among <paramref name="lanes"/> that hold rows to publish.</summary>
    Task<IReadOnlyList<int>> FindReadyLanesAsync(IReadOnlyCollection<int> lanes, CancellationToken cancellationToken);

    /// <summary>Listens for commit notifications until cancelled, calling <paramref name="onLane"/> with each lane number
    /// and <paramref name="onConnected"/> after every (re)connection (notifications may have been missed before it).</summary>
    Task ListenAsync(Action<int> onLane, Action onConnected, CancellationToken cancellationToken);

    /// <summary>Deletes published rows older than <paramref name="retention"/> (retention mode); returns how many.</summary>
    Task<long> DeleteExpiredPublishedAsync(TimeSpan retention, CancellationToken cancellationToken);
}
