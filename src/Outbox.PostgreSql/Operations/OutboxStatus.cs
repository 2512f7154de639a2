namespace Outbox.PostgreSql;

/// <summary>A snapshot of the outbox for operators: pending rows, relay leases, dead letters, CDC slots, inboxes.</summary>
/// <param name="Pending">Rows waiting in the outbox table (see <paramref name="PendingCapped"/>).</param>
/// <param name="OldestPendingAge">The age of the oldest pending row; <see langword="null"/> when none is pending.</param>
/// <param name="Lanes">The polling relay's lanes, in lane order.</param>
/// <param name="DeadLetters">Rows in the dead-letter table.</param>
/// <param name="ReplicationSlots">The CDC relay's logical replication slots.</param>
/// <param name="Inboxes">One entry per consumer group that has an inbox.</param>
/// <param name="ParkedKeys">Keys the relays parked after their last attempt.</param>
/// <param name="RetryingKeys">Keys the relays hold back for a retry.</param>
/// <param name="PendingCapped"><see langword="true"/> when a lane had more pending rows than <see cref="OutboxAdministration.LaneCountCap"/>: <paramref name="Pending"/> is then a lower bound.</param>
public sealed record OutboxStatus(
    long Pending,
    TimeSpan? OldestPendingAge,
    IReadOnlyList<LaneStatus> Lanes,
    long DeadLetters,
    IReadOnlyList<CdcSlotStatus> ReplicationSlots,
    IReadOnlyList<InboxStatus> Inboxes,
    long ParkedKeys = 0,
    long RetryingKeys = 0,
    bool PendingCapped = false);

/// <summary>One lane: its pending rows (counted up to <see cref="OutboxAdministration.LaneCountCap"/> + 1) and its lease.</summary>
/// <param name="Lane">The lane number.</param>
/// <param name="Pending">Pending rows in the lane, counted up to <see cref="OutboxAdministration.LaneCountCap"/> + 1.</param>
/// <param name="OldestPendingAge">The age of the lane's oldest pending row; <see langword="null"/> when none is pending.</param>
/// <param name="Owner">The relay instance that holds the lane's lease, if any.</param>
/// <param name="Epoch">The lease's epoch (its fencing token).</param>
/// <param name="LeaseExpiresAt">When the lease expires unless renewed; <see langword="null"/> when the lane is not leased.</param>
public sealed record LaneStatus(int Lane, long Pending, TimeSpan? OldestPendingAge, string? Owner, long Epoch, DateTimeOffset? LeaseExpiresAt);

/// <summary>One consumer group's inbox.</summary>
/// <param name="ConsumerGroup">The Kafka consumer group.</param>
/// <param name="Handled">Events the group's inbox recorded as handled.</param>
/// <param name="LastHandledAt">When the group last handled an event, if ever.</param>
/// <param name="StoredPartitions">Partitions whose position the inbox stores.</param>
public sealed record InboxStatus(string ConsumerGroup, long Handled, DateTimeOffset? LastHandledAt, long StoredPartitions);
