using Outbox.Relay;

namespace Outbox.IntegrationTests.Polling;

/// <summary>
/// The real polling store, except that the first claim, once read, stalls until the test opens the gate: a relay
/// paused (SIGSTOP, a long GC, a starved machine) between reading its batch and handing it to the producer.
/// </summary>
internal sealed class PausingStore(IPollingRelayStore inner) : IPollingRelayStore
{
    private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _claims;

    /// <summary>Gets a task that completes when a claim has been read and is held at the gate.</summary>
    public Task Paused => _paused.Task;

    public void Resume() => _gate.TrySetResult();

    public async Task<IReadOnlyList<LaneBatch>> ClaimAsync(IReadOnlyList<int> lanes, int batchSize, long maxBytesPerLane, CancellationToken cancellationToken)
    {
        var batch = await inner.ClaimAsync(lanes, batchSize, maxBytesPerLane, cancellationToken);
        if (Interlocked.Increment(ref _claims) == 1)
        {
            _paused.TrySetResult();
            await _gate.Task.WaitAsync(cancellationToken);
        }

        return batch;
    }

    public Task<IReadOnlyList<int>> PrepareAsync(int laneCount, CancellationToken cancellationToken) => inner.PrepareAsync(laneCount, cancellationToken);

    public Task<LeaseRenewal> RenewAsync(string instanceId, IReadOnlyList<LaneLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        inner.RenewAsync(instanceId, leases, leaseDuration, cancellationToken);

    public Task<IReadOnlyList<LaneLease>> AcquireAsync(
        string instanceId, int count, int laneCount, IReadOnlyCollection<int> held, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        inner.AcquireAsync(instanceId, count, laneCount, held, leaseDuration, cancellationToken);

    public Task ReleaseAsync(string instanceId, IReadOnlyList<LaneLease> leases, CancellationToken cancellationToken) => inner.ReleaseAsync(instanceId, leases, cancellationToken);

    public Task LeaveAsync(string instanceId, CancellationToken cancellationToken) => inner.LeaveAsync(instanceId, cancellationToken);

    public Task<LaneCompletion> CompleteAsync(
        string instanceId, IReadOnlyList<LaneLease> leases, IReadOnlyList<Guid> acknowledged, IReadOnlyList<Guid> retried, IReadOnlyList<KeyFailure> failures, KeyRetryPolicy policy, CancellationToken cancellationToken) =>
        inner.CompleteAsync(instanceId, leases, acknowledged, retried, failures, policy, cancellationToken);

    public Task<IReadOnlyList<int>> FindReadyLanesAsync(IReadOnlyCollection<int> lanes, CancellationToken cancellationToken) => inner.FindReadyLanesAsync(lanes, cancellationToken);

    public Task ListenAsync(Action<int> onLane, Action onConnected, CancellationToken cancellationToken) => inner.ListenAsync(onLane, onConnected, cancellationToken);

    public Task<long> DeleteExpiredPublishedAsync(TimeSpan retention, CancellationToken cancellationToken) => inner.DeleteExpiredPublishedAsync(retention, cancellationToken);
}
