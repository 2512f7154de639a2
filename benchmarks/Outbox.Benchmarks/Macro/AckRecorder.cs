using System.Collections.Concurrent;
using System.Diagnostics;
using Outbox.Providers;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// When the relay learned that Kafka acknowledged each event (the first time, per event id), and how long the relay
/// spent waiting in the publisher. Fed by <see cref="AckRecordingPublisher"/>, which wraps the library's publisher.
/// </summary>
internal sealed class AckRecorder
{
    private readonly ConcurrentDictionary<Guid, long> _ackedAt = new();
    private readonly TaskCompletionSource<long> _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _target = long.MaxValue;
    private long _count;
    private long _publishCalls;
    private long _publishedMessages;
    private long _publishTicks;
    private long _failed;

    public long Count => Interlocked.Read(ref _count);

    public long PublishCalls => Interlocked.Read(ref _publishCalls);

    public long PublishedMessages => Interlocked.Read(ref _publishedMessages);

    public TimeSpan TimeInPublish => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _publishTicks));

    public long Failed => Interlocked.Read(ref _failed);

    public IReadOnlyDictionary<Guid, long> AckedAt => _ackedAt;

    /// <summary>Diagnostics: when each event was first handed to the publisher, with its workload index (when <see cref="TrackHandOver"/>).</summary>
    public ConcurrentDictionary<Guid, (long HandedAt, long Index)> HandedOver { get; } = new();

    public bool TrackHandOver { get; init; }

    /// <summary>The workload's number of keys (to turn an account and sequence number into an index).</summary>
    public int Keys { get; init; }

    /// <summary>Completes with the Stopwatch timestamp at which the <paramref name="target"/>-th distinct event was acknowledged.</summary>
    public Task<long> WaitForAsync(long target)
    {
        Interlocked.Exchange(ref _target, target);
        if (Count >= target)
        {
            _all.TrySetResult(Stopwatch.GetTimestamp());
        }

        return _all.Task;
    }

    public void Published(IReadOnlyList<OutboxRecord> messages, ReadOnlySpan<bool> acknowledged, long startedAt, long finishedAt)
    {
        Interlocked.Increment(ref _publishCalls);
        Interlocked.Add(ref _publishedMessages, messages.Count);
        Interlocked.Add(ref _publishTicks, finishedAt - startedAt);
        for (var i = 0; i < messages.Count; i++)
        {
            if (!acknowledged[i])
            {
                Interlocked.Increment(ref _failed);
                continue;
            }

            if (_ackedAt.TryAdd(messages[i].Id, finishedAt) && Interlocked.Increment(ref _count) >= Interlocked.Read(ref _target))
            {
                _all.TrySetResult(finishedAt);
            }
        }
    }
}
