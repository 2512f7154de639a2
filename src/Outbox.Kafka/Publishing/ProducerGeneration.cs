using System.Collections.Concurrent;
using Confluent.Kafka;

namespace Outbox.Kafka.Publishing;

/// <summary>
/// One producer instance and the batches waiting on it; replaced as a whole after a fatal error, or closed and replaced
/// when a delivery ran out of time (no batch may hand records over to it after that).
/// </summary>
internal sealed class ProducerGeneration(int number)
{
    private readonly ConcurrentDictionary<DeliveryBatch, byte> _batches = new();
    private volatile bool _fatal;
    private int _closed;
    private int _handingOver;

    public int Number { get; } = number;

    public IProducer<byte[], byte[]> Producer { get; set; } = null!;

    public bool IsFatal => _fatal;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public void MarkFatal() => _fatal = true;

    /// <summary>Starts handing a batch over; <see langword="false"/> when the generation is closed (take the next one).</summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _handingOver);
        if (Volatile.Read(ref _closed) == 0)
        {
            return true;
        }

        Interlocked.Decrement(ref _handingOver);
        return false;
    }

    /// <summary>Ends a hand-over started by <see cref="TryEnter"/>.</summary>
    public void Exit() => Interlocked.Decrement(ref _handingOver);

    /// <summary>Closes the generation to new hand-overs and waits for those in progress to end.</summary>
    public void CloseAndWait()
    {
        Interlocked.Exchange(ref _closed, 1);
        var spin = default(SpinWait);
        while (Volatile.Read(ref _handingOver) != 0)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>The number of unsettled batches that have waited at least <paramref name="limit"/> since their hand-over began.</summary>
    public int CountWaitingAtLeast(TimeSpan limit) =>
        _batches.Keys.Count(b => !b.Completion.IsCompleted && System.Diagnostics.Stopwatch.GetElapsedTime(b.HandedOverAt) >= limit);

    public void Track(DeliveryBatch batch) => _batches.TryAdd(batch, 0);

    public void Untrack(DeliveryBatch batch) => _batches.TryRemove(batch, out _);

    /// <summary>After the producer is gone, no delivery report will come: fail what is still waiting.</summary>
    public void FailOutstanding(string error)
    {
        foreach (var batch in _batches.Keys)
        {
            batch.FailUnsettled(error);
        }
    }
}
