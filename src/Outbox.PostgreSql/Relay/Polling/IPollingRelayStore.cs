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

    /// <summary>
    /// Reads the next rows of each lane in commit order (one statement for all), leaving out the rows of held keys
    /// (parked, or retrying later).
    /// </summary>
    /// <param name="lanes">The lanes of the drain cycle.</param>
    /// <param name="batchSize">The most rows per lane.</param>
    /// <param name="maxBytesPerLane">The byte budget of each lane's payloads: a lane's batch ends before the row that
    /// would pass it (its first row is always taken, however large).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>One batch per lane, in the order of <paramref name="lanes"/>.</returns>
    Task<IReadOnlyList<LaneBatch>> ClaimAsync(IReadOnlyList<int> lanes, int batchSize, long maxBytesPerLane, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction, for the leases of <paramref name="leases"/> that still hold: deletes (or marks published)
    /// their acknowledged rows, forgets the failures of <paramref name="retried"/> (rows that failed before and are
    /// published now), and records each key failure (its key retries later or is parked, per <paramref name="policy"/>).
    /// A lease that no longer holds changes nothing of its lane.
    /// </summary>
    /// <returns>The lanes whose lease held, and the outcome of each failure in the order given (none when its lease did
    /// not hold).</returns>
    Task<LaneCompletion> CompleteAsync(
        string instanceId,
        IReadOnlyList<LaneLease> leases,
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
