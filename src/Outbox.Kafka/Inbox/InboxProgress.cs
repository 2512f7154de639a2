using System.Collections.Concurrent;

namespace Outbox.Inbox;

/// <summary>
/// What each partition of each consumer group of this process has waiting, when it last finished a record, and its
/// parked keys: the input of the "consumer not stuck" health check and of the parked-keys gauges. The consumer host's
/// poll thread reports the records waiting per partition; each partition's worker reports its finished records
/// (handled, skipped as a duplicate, dead-lettered, parked or held). Tracked per partition: one stuck partition is
/// stuck even while the group's other partitions progress.
/// </summary>
internal sealed class InboxProgress(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, GroupProgress> _groups = new(StringComparer.Ordinal);

    public void Started(string consumerGroup) => Group(consumerGroup).Touch(timeProvider.GetUtcNow());

    public void Stopped(string consumerGroup) => _groups.TryRemove(consumerGroup, out _);

    /// <summary>A partition was assigned to this process (with its parked keys, read at assignment).</summary>
    public void Assigned(string consumerGroup, string topic, int partition, PartitionParking parking)
    {
        var progress = new PartitionProgress(parking);
        progress.Touch(timeProvider.GetUtcNow());
        Group(consumerGroup).Partitions[(topic, partition)] = progress;
    }

    /// <summary>A partition left this process (revoked or lost).</summary>
    public void Unassigned(string consumerGroup, string topic, int partition) =>
        Group(consumerGroup).Partitions.TryRemove((topic, partition), out _);

    public void RecordFinished(string consumerGroup, string topic, int partition)
    {
        var now = timeProvider.GetUtcNow();
        var group = Group(consumerGroup);
        group.Touch(now);
        if (group.Partitions.TryGetValue((topic, partition), out var progress))
        {
            progress.Touch(now);
        }
    }

    public void SetWaiting(string consumerGroup, string topic, int partition, int records)
    {
        if (!Group(consumerGroup).Partitions.TryGetValue((topic, partition), out var progress))
        {
            return;
        }

        if (progress.Waiting == 0 && records > 0)
        {
            // Idle until now: the clock for "no progress" starts with the first waiting record.
            progress.Touch(timeProvider.GetUtcNow());
        }

        progress.Waiting = records;
    }

    public IReadOnlyList<GroupSnapshot> Snapshot()
    {
        var now = timeProvider.GetUtcNow();
        var groups = new List<GroupSnapshot>();
        foreach (var (name, group) in _groups.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var partitions = new List<PartitionSnapshot>();
            foreach (var ((topic, partition), progress) in group.Partitions.OrderBy(p => p.Key.Topic, StringComparer.Ordinal).ThenBy(p => p.Key.Partition))
            {
                partitions.Add(new PartitionSnapshot(
                    topic, partition, progress.Waiting, now - progress.LastProgress, progress.Parking.Count, now - progress.Parking.OldestParkedAt));
            }

            groups.Add(new GroupSnapshot(name, now - group.LastProgress, partitions));
        }

        return groups;
    }

    private GroupProgress Group(string consumerGroup) => _groups.GetOrAdd(consumerGroup, _ => new GroupProgress());

    /// <summary>A consumer group: when it last finished a record, and its partitions.</summary>
    internal sealed record GroupSnapshot(string ConsumerGroup, TimeSpan SinceProgress, IReadOnlyList<PartitionSnapshot> Partitions)
    {
        public int Waiting => Partitions.Sum(p => p.Waiting);

        public int ParkedKeys => Partitions.Sum(p => p.ParkedKeys);

        public TimeSpan? OldestParkedAge => Partitions.Max(p => p.OldestParkedAge);
    }

    /// <summary>One partition: records waiting, time since it last finished one (or since records started waiting), parked keys.</summary>
    internal sealed record PartitionSnapshot(string Topic, int Partition, int Waiting, TimeSpan SinceProgress, int ParkedKeys, TimeSpan? OldestParkedAge);

    private class Progress
    {
        private long _lastProgressTicks;

        public DateTimeOffset LastProgress => new(Interlocked.Read(ref _lastProgressTicks), TimeSpan.Zero);

        public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastProgressTicks, now.UtcTicks);
    }

    private sealed class GroupProgress : Progress
    {
        public ConcurrentDictionary<(string Topic, int Partition), PartitionProgress> Partitions { get; } = new();
    }

    private sealed class PartitionProgress(PartitionParking parking) : Progress
    {
        private int _waiting;

        public PartitionParking Parking { get; } = parking;

        public int Waiting
        {
            get => Volatile.Read(ref _waiting);
            set => Volatile.Write(ref _waiting, value);
        }
    }
}
