using Microsoft.Extensions.Logging;

namespace Outbox.Relay;

/// <summary>Log messages of the polling relay (event ids 1000-1099).</summary>
internal static partial class Log
{
    [LoggerMessage(OutboxEventId.PollingRelayStarted, LogLevel.Information, "Polling relay {InstanceId} started: {LaneCount} lanes, batch {BatchSize}, {MaxConcurrentLanes} lanes in flight")]
    public static partial void Started(ILogger logger, string instanceId, int laneCount, int batchSize, int maxConcurrentLanes);

    [LoggerMessage(OutboxEventId.PollingRelayStopped, LogLevel.Information, "Polling relay {InstanceId} stopped and released {Count} lanes")]
    public static partial void Stopped(ILogger logger, string instanceId, int count);

    [LoggerMessage(OutboxEventId.PollingRelayAcquired, LogLevel.Information, "Polling relay {InstanceId} acquired lanes {Lanes} ({Held} held, share {Share} of {LiveInstances} instances)")]
    public static partial void Acquired(ILogger logger, string instanceId, string lanes, int held, int share, int liveInstances);

    [LoggerMessage(OutboxEventId.PollingRelayReleased, LogLevel.Information, "Polling relay {InstanceId} released lanes {Lanes} to rebalance (share {Share} of {LiveInstances} instances)")]
    public static partial void Released(ILogger logger, string instanceId, string lanes, int share, int liveInstances);

    [LoggerMessage(OutboxEventId.PollingRelayLeasesLost, LogLevel.Warning, "Polling relay {InstanceId} lost the leases of lanes {Lanes}")]
    public static partial void LeasesLost(ILogger logger, string instanceId, string lanes);

    [LoggerMessage(OutboxEventId.PollingRelayDrainFailed, LogLevel.Warning, "Draining lanes {Lanes} failed; retrying in {Delay}")]
    public static partial void DrainFailed(ILogger logger, string lanes, TimeSpan delay, Exception exception);

    [LoggerMessage(OutboxEventId.PollingRelayCompletionFenced, LogLevel.Warning, "Lane {Lane}: the lease (epoch {Epoch}) was taken over before the batch was completed; another instance republishes it")]
    public static partial void CompletionFenced(ILogger logger, int lane, long epoch);

    [LoggerMessage(OutboxEventId.PollingRelayOrphanLanes, LogLevel.Warning, "Rows exist in lanes {Lanes}, at or above LaneCount {LaneCount}: no relay drains them. Was OutboxOptions.LaneCount lowered? See docs/relay-polling.md")]
    public static partial void OrphanLanes(ILogger logger, string lanes, int laneCount);

    [LoggerMessage(OutboxEventId.PollingRelayLoopFailed, LogLevel.Warning, "The polling relay's {Loop} loop failed; it continues after {Delay}")]
    public static partial void LoopFailed(ILogger logger, string loop, TimeSpan delay, Exception exception);

    [LoggerMessage(OutboxEventId.PollingRelayStaleBatchDropped, LogLevel.Warning, "Lane {Lane}: the lease (epoch {Epoch}) may have been taken over while this instance was paused after reading a batch; the batch was not published (its rows are another instance's now)")]
    public static partial void StaleBatchDropped(ILogger logger, int lane, long epoch);

    [LoggerMessage(OutboxEventId.PollingRelayCleanedUp, LogLevel.Debug, "Deleted {Count} published rows older than the retention period")]
    public static partial void CleanedUp(ILogger logger, long count);
}
