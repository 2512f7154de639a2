using Confluent.Kafka;
using Outbox.Providers;

namespace Outbox.Kafka.Publishing;

/// <summary>
/// The delivery results of one <see cref="KafkaOutboxPublisher.PublishAsync"/> call: each record's handler fills its
/// slot once, and the task completes when every produced record has a result.
/// </summary>
internal sealed class DeliveryBatch
{
    private readonly PublishResult[] _results;
    private readonly int[] _settled;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _produced;

    // Starts at one: the producing loop holds a count until it has handed every record over.
    private int _pending = 1;

    public DeliveryBatch(PublishResult[] results)
    {
        _results = results;
        _settled = new int[results.Length];
        HandedOverAt = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    public Task Completion => _completion.Task;

    /// <summary>Gets when the batch started to be handed over (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public long HandedOverAt { get; }

    /// <summary>Counts a record about to be produced and returns its delivery handler.</summary>
    public Action<DeliveryReport<byte[], byte[]>> Expect(int index)
    {
        Interlocked.Increment(ref _pending);
        _produced = index + 1;
        return report => Settle(index, report.Error is { IsError: true } error
            ? PublishResult.Failed(Describe(error), KafkaErrorClassifier.Classify(error))
            : PublishResult.Acknowledged);
    }

    /// <summary>The record at <paramref name="index"/> was not handed over after all (its produce call threw).</summary>
    public void Unexpect(int index)
    {
        Volatile.Write(ref _settled[index], 1);
        _produced = index;
        Release();
    }

    /// <summary>
    /// The record at <paramref name="index"/> was not handed over yet and will be again (the producer's queue was full):
    /// its slot stays open for the delivery report of the next hand-over.
    /// </summary>
    public void Withdraw(int index)
    {
        _produced = index;
        Release();
    }

    /// <summary>The producing loop is done handing records over.</summary>
    public void Sealed() => Release();

    /// <summary>Fails every produced record that has no result yet (its producer was disposed without reporting it).</summary>
    public void FailUnsettled(string error)
    {
        for (var i = 0; i < Volatile.Read(ref _produced); i++)
        {
            Settle(i, KafkaErrorClassifier.ProducerGone(error));
        }
    }

    public static string Describe(Error error) => $"{error.Code}: {error.Reason}";

    private void Settle(int index, PublishResult result)
    {
        if (Interlocked.Exchange(ref _settled[index], 1) == 0)
        {
            _results[index] = result;
            Release();
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            _completion.TrySetResult();
        }
    }
}
