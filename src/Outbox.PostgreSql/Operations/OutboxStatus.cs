namespace Outbox.PostgreSql;

/// <summary>A snapshot of the outbox for operators: pending rows, relay leases, dead letters, CDC slots, inboxes.</summary>
internal sealed record OutboxStatus(
    long Pending,
    TimeSpan? OldestPendingAge,
    IReadOnlyList<LaneStatus> Lanes,
    long DeadLetters,
    IReadOnlyList<SlotStatus> ReplicationSlots,
    IReadOnlyList<InboxStatus> Inboxes,
    long ParkedKeys = 0,
    long RetryingKeys = 0,
    bool PendingCapped = false);

/// <summary>One lane: its pending rows (counted up to <see cref="OutboxAdministration.LaneCountCap"/> + 1) and its lease.</summary>
internal sealed record LaneStatus(int Lane, long Pending, TimeSpan? OldestPendingAge, string? Owner, long Epoch, DateTimeOffset? LeaseExpiresAt);

/// <summary>One logical replication slot.</summary>
internal sealed record SlotStatus(string Name, bool Active, int? ActivePid, string? WalStatus, long? LagBytes, long? RetainedBytes);

/// <summary>One consumer group's inbox.</summary>
internal sealed record InboxStatus(string ConsumerGroup, long Handled, DateTimeOffset? LastHandledAt, long StoredPartitions);
