using System.Collections.Concurrent;

namespace MovieWatch.Handlers;

/// <summary>The last events the consumers handled, for the page's live panel.</summary>
public sealed class RecentEvents
{
    private const int Capacity = 30;
    private readonly ConcurrentQueue<RecentEvent> _events = new();

    public void Add(RecentEvent recent)
    {
        _events.Enqueue(recent);
        while (_events.Count > Capacity && _events.TryDequeue(out _))
        {
        }
    }

    public IReadOnlyList<RecentEvent> Snapshot() => _events.Reverse().ToList();
}

public sealed record RecentEvent(string Service, string Id, int UserId, int MovieId, string Genre, long Offset, int Partition, DateTimeOffset HandledAt);
