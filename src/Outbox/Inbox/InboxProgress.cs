using System.Collections.Concurrent;

namespace Outbox.Inbox;

/// <summary>
/// What each consumer group of this process has waiting and when it last finished a record: the input of the
/// "consumer not stuck" health check. The consumer host's poll thread reports the records waiting; its workers report
/// each finished record (handled, skipped as a duplicate, or dead-lettered).
/// </summary>
internal sealed class InboxProgress(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, GroupProgress> _groups = new(StringComparer.Ordinal);

    public void Started(string consumerGroup) => Group(consumerGroup).Touch(timeProvider.GetUtcNow());

    public void Stopped(string consumerGroup) => _groups.TryRemove(consumerGroup, out _);

    public void RecordFinished(string consumerGroup) => Group(consumerGroup).Touch(timeProvider.GetUtcNow());

    public void SetWaiting(string consumerGroup, int records)
    {
        var group = Group(consumerGroup);
        var now = timeProvider.GetUtcNow();
        if (group.Waiting == 0 && records > 0)
        {
            // Idle until now: the clock for "no progress" starts with the first waiting record.
            group.Touch(now);
        }

        group.Waiting = records;
    }

    public IReadOnlyList<(string ConsumerGroup, int Waiting, TimeSpan SinceProgress)> Snapshot()
    {
        var now = timeProvider.GetUtcNow();
        return _groups.Select(g => (g.Key, g.Value.Waiting, now - g.Value.LastProgress)).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
    }

    private GroupProgress Group(string consumerGroup) => _groups.GetOrAdd(consumerGroup, _ => new GroupProgress());

    private sealed class GroupProgress
    {
        private long _lastProgressTicks;
        private int _waiting;

        public int Waiting
        {
            get => Volatile.Read(ref _waiting);
            set => Volatile.Write(ref _waiting, value);
        }

        public DateTimeOffset LastProgress => new(Interlocked.Read(ref _lastProgressTicks), TimeSpan.Zero);

        public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastProgressTicks, now.UtcTicks);
    }
}
