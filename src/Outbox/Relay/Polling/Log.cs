using Microsoft.Extensions.Logging;

namespace Outbox.Relay;

/// <summary>Log messages of the polling relay (event ids 1000-1099).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Polling relay {InstanceId} started: {LaneCount} lanes, batch {BatchSize}, {MaxConcurrentLanes} lanes in flight")]
    public static partial void Started(ILogger logger, string instanceId, int laneCount, int batchSize, int maxConcurrentLanes);

    [LoggerMessage(1002, LogLevel.Information, "Polling relay {InstanceId} stopped and released {Count} lanes")]
    public static partial void Stopped(ILogger logger, string instanceId, int count);

    [LoggerMessage(1003, LogLevel.Information, "Polling relay {InstanceId} acquired lanes {Lanes} ({Held} held, share {Share} of {LiveInstances} instances)")]
    public static partial void Acquired(ILogger logger, string instanceId, string lanes, int held, int share, int liveInstances);

    [LoggerMessage(1004, LogLevel.Information, "Polling relay {InstanceId} released lanes {Lanes} to rebalance (share {Share} of {LiveInstances} instances)")]
    public static partial void Released(ILogger logger, string instanceId, string lanes, int share, int liveInstances);

    [LoggerMessage(1005, LogLevel.Warning, "Polling relay {InstanceId} lost the leases of lanes {Lanes}")]
    public static partial void LeasesLost(ILogger logger, string instanceId, string lanes);

    [LoggerMessage(1009, LogLevel.Warning, "Draining lanes {Lanes} failed; retrying in {Delay}")]
    public static partial void DrainFailed(ILogger logger, string lanes, TimeSpan delay, Exception exception);

    [LoggerMessage(1010, LogLevel.Warning, "Lane {Lane}: the lease (epoch {Epoch}) was taken over before the batch was completed; another instance republishes it")]
    public static partial void CompletionFenced(ILogger logger, int lane, long epoch);

    [LoggerMessage(1011, LogLevel.Warning, "Rows exist in lanes {Lanes}, at or above LaneCount {LaneCount}: no relay drains them. Was OutboxOptions.LaneCount lowered? See docs/relay-polling.md")]
    public static partial void OrphanLanes(ILogger logger, string lanes, int laneCount);

    [LoggerMessage(1012, LogLevel.Warning, "The polling relay's {Loop} loop failed; it continues after {Delay}")]
    public static partial void LoopFailed(ILogger logger, string loop, TimeSpan delay, Exception exception);

    [LoggerMessage(1014, LogLevel.Warning, "Lane {Lane}: the lease (epoch {Epoch}) may have been taken over while this instance was paused after reading a batch; the batch was not published (its rows are another instance's now)")]
    public static partial void StaleBatchDropped(ILogger logger, int lane, long epoch);

    [LoggerMessage(1013, LogLevel.Debug, "Deleted {Count} published rows older than the retention period")]
    public static partial void CleanedUp(ILogger logger, long count);
}
