using Outbox.Relay;

namespace Outbox.PostgreSql;

/// <summary>Records that a key's event failed (retrying, or parked after the last attempt): <see cref="ParkingStore"/> in production, a fake in unit tests.</summary>
internal interface IKeyFailureStore
{
    /// <summary>Records a failure of a key; returns its attempts so far, whether it is now parked and when it is retried.</summary>
    Task<KeyFailureOutcome> FailAsync(KeyFailure failure, KeyRetryPolicy policy, CancellationToken cancellationToken);
}
