using System.Collections.Concurrent;
using Confluent.Kafka;

namespace Outbox.Kafka.Publishing;

/// <summary>One producer instance and the batches waiting on it; replaced as a whole after a fatal error.</summary>
internal sealed class ProducerGeneration(int number)
{
    private readonly ConcurrentDictionary<DeliveryBatch, byte> _batches = new();
    private volatile bool _fatal;

    public int Number { get; } = number;

    public IProducer<byte[], byte[]> Producer { get; set; } = null!;

    public bool IsFatal => _fatal;

    public void MarkFatal() => _fatal = true;

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
