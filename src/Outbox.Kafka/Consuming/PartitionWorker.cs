using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Outbox.Inbox;

namespace Outbox.Kafka.Consuming;

/// <summary>
/// Handles the records of one assigned partition in order, on the thread pool, while the poll thread goes on
/// reading other partitions. Takes every record already waiting (up to the batch size) per call to the pipeline.
/// </summary>
internal sealed class PartitionWorker : IDisposable
{
    private readonly Channel<InboxRecord> _queue = Channel.CreateUnbounded<InboxRecord>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting;
    private readonly InboxProcessor _processor;
    private readonly InboxRoutes _routes;
    private readonly SemaphoreSlim _concurrency;
    private readonly int _maxBatchSize;
    private readonly Action<PartitionWorker, long> _completed;
    private readonly ILogger _logger;
    private Task _run = Task.CompletedTask;
    private int _buffered;

    public PartitionWorker(
        TopicPartition partition,
        long nextExpectedOffset,
        InboxProcessor processor,
        InboxRoutes routes,
        SemaphoreSlim concurrency,
        int maxBatchSize,
        Action<PartitionWorker, long> completed,
        ILogger logger,
        CancellationToken hostAborting)
    {
        Partition = partition;
        NextExpectedOffset = nextExpectedOffset;
        _processor = processor;
        _routes = routes;
        _concurrency = concurrency;
        _maxBatchSize = maxBatchSize;
        _completed = completed;
        _logger = logger;
        _aborting = CancellationTokenSource.CreateLinkedTokenSource(hostAborting);
    }

    public TopicPartition Partition { get; }

    /// <summary>Gets or sets the offset of the next record to hand over; lower offsets are duplicates of a re-fetch (poll thread only).</summary>
    public long NextExpectedOffset { get; set; }

    /// <summary>Gets or sets a value indicating whether the poll thread paused fetching this partition (poll thread only).</summary>
    public bool Paused { get; set; }

    /// <summary>Gets the number of records handed over and not yet done.</summary>
    public int Buffered => Volatile.Read(ref _buffered);

    public void Start() => _run = Task.Run(RunAsync);

    public void Enqueue(InboxRecord record)
    {
        Interlocked.Increment(ref _buffered);
        if (!_queue.Writer.TryWrite(record))
        {
            // Stopped: the record is read again by the partition's next owner from the stored offset.
            Interlocked.Decrement(ref _buffered);
        }
    }

    /// <summary>Starts no new transaction; lets the running one finish within <paramref name="timeout"/>, then cancels it.</summary>
    /// <returns>A task that completes (never faults) when the worker has stopped.</returns>
    public Task StopAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        _stopping.Cancel();
        _aborting.CancelAfter(timeout);
        return _run;
    }

    /// <summary>Cancels the running transaction at once (it rolls back).</summary>
    /// <returns>A task that completes (never faults) when the worker has stopped.</returns>
    public Task AbortAsync()
    {
        _queue.Writer.TryComplete();
        _stopping.Cancel();
        _aborting.Cancel();
        return _run;
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _aborting.Dispose();
    }

    private async Task RunAsync()
    {
        var records = new List<InboxRecord>(Math.Min(_maxBatchSize, 1024));
        var items = new List<InboxItem>(records.Capacity);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                records.Clear();
                while (records.Count < _maxBatchSize && _queue.Reader.TryRead(out var record))
                {
                    records.Add(record);
                }

                bool done;
                await _concurrency.WaitAsync(_stopping.Token).ConfigureAwait(false);
                try
                {
                    items.Clear();
                    foreach (var record in records)
                    {
                        items.Add(_routes.Read(record));
                    }

                    done = await _processor.ProcessAsync(items, next => _completed(this, next), _stopping.Token, _aborting.Token).ConfigureAwait(false);
                }
                finally
                {
                    _concurrency.Release();
                }

                Interlocked.Add(ref _buffered, -records.Count);
                if (!done)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // A bug, not a record's fault (the pipeline retries or dead-letters those): nothing past the last
            // completed offset is stored, so the partition's next owner starts there.
            Log.WorkerFailed(_logger, ex, Partition.Topic, Partition.Partition.Value, _processor.Settings.ConsumerGroup);
        }
    }
}
