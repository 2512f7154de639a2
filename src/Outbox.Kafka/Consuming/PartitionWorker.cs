using System.Diagnostics;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Outbox.Inbox;
using Outbox.Providers;

namespace Outbox.Kafka.Consuming;

/// <summary>
/// Handles the records of one assigned partition in order, on the thread pool, while the poll thread goes on
/// reading other partitions. Takes every record already waiting (up to the batch size) per call to the pipeline.
/// While the partition has parked records it checks, between batches, whether an operator asked to replay them
/// (nothing else of the partition runs meanwhile). Takes no concurrency slot itself: the pipeline takes one per
/// transaction, so a backoff wait or a parked key never holds one.
/// </summary>
internal sealed class PartitionWorker : IDisposable
{
    private readonly Channel<InboxRecord> _queue = Channel.CreateUnbounded<InboxRecord>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting;
    private readonly InboxProcessor _processor;
    private readonly InboxRoutes _routes;
    private readonly int _maxBatchSize;
    private readonly TimeSpan _parkedCheckInterval;
    private readonly Action<long> _bytesChanged;
    private readonly Action<PartitionWorker, long> _completed;
    private readonly ILogger _logger;
    private readonly Dictionary<string, long> _openedTenants = new(StringComparer.Ordinal);
    private readonly Queue<string> _tenantsToOpen = new();
    private bool _listedTenantsOpened;
    private Task _run = Task.CompletedTask;
    private int _buffered;
    private long _bufferedBytes;

    public PartitionWorker(
        TopicPartition partition,
        long nextExpectedOffset,
        InboxProcessor processor,
        InboxRoutes routes,
        PartitionParking parking,
        int maxBatchSize,
        TimeSpan parkedCheckInterval,
        Action<long> bytesChanged,
        Action<PartitionWorker, long> completed,
        ILogger logger,
        CancellationToken hostAborting)
    {
        Partition = partition;
        NextExpectedOffset = nextExpectedOffset;
        _processor = processor;
        _routes = routes;
        Parking = parking;
        _maxBatchSize = maxBatchSize;
        _parkedCheckInterval = parkedCheckInterval;
        _bytesChanged = bytesChanged;
        _completed = completed;
        _logger = logger;
        _aborting = CancellationTokenSource.CreateLinkedTokenSource(hostAborting);
    }

    public TopicPartition Partition { get; }

    /// <summary>Gets the partition's parked keys.</summary>
    public PartitionParking Parking { get; }

    /// <summary>Gets or sets the offset of the next record to hand over; lower offsets are duplicates of a re-fetch (poll thread only).</summary>
    public long NextExpectedOffset { get; set; }

    /// <summary>Gets or sets a value indicating whether the poll thread paused fetching this partition (poll thread only).</summary>
    public bool Paused { get; set; }

    /// <summary>Gets the number of records handed over and not yet done.</summary>
    public int Buffered => Volatile.Read(ref _buffered);

    /// <summary>Gets the bytes (key, value, headers) of the records handed over and not yet done.</summary>
    public long BufferedBytes => Interlocked.Read(ref _bufferedBytes);

    public void Start() => _run = Task.Run(RunAsync);

    /// <summary>Gets whether, with tenant routing, listed tenants remain that this worker has not opened yet.</summary>
    private bool TenantsToOpen => _processor.RoutesByTenant && !_listedTenantsOpened;

    public void Enqueue(InboxRecord record)
    {
        Interlocked.Increment(ref _buffered);
        var size = Size(record);
        AddBytes(size);
        if (!_queue.Writer.TryWrite(record))
        {
            // Stopped: the record is read again by the partition's next owner from the stored offset.
            Interlocked.Decrement(ref _buffered);
            AddBytes(-size);
        }
    }

    /// <summary>The bytes a record holds in the read-ahead buffer: key, value, header names and values.</summary>
    public static long Size(InboxRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        long size = (record.Key?.Length ?? 0) + (record.Value?.Length ?? 0);
        foreach (var header in record.Headers)
        {
            size += header.Key.Length + (header.Value?.Length ?? 0);
        }

        return size;
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

    /// <summary>Waits for records; while the partition has parked records, at most until the next check of them.</summary>
    /// <returns><see langword="true"/> when records wait.</returns>
    private async Task<bool> WaitForRecordsAsync()
    {
        if (!Parking.HasRows && !TenantsToOpen)
        {
            return await _queue.Reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(_parkedCheckInterval);
        try
        {
            return await _queue.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            return false;
        }
    }

    private void AddBytes(long bytes)
    {
        if (bytes != 0)
        {
            Interlocked.Add(ref _bufferedBytes, bytes);
            _bytesChanged(bytes);
        }
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
        long nextParkedCheck = 0;
        try
        {
            while (true)
            {
                if ((Parking.HasRows || TenantsToOpen) && Stopwatch.GetTimestamp() >= nextParkedCheck)
                {
                    if (TenantsToOpen)
                    {
                        // The listed tenants this worker has not met: their parked rows count too (a few per check).
                        _listedTenantsOpened = !await _processor.OpenListedTenantsAsync(
                            Partition.Topic, Partition.Partition.Value, _openedTenants, Parking, _tenantsToOpen, refill: _tenantsToOpen.Count == 0, _aborting.Token).ConfigureAwait(false);
                    }

                    // Between batches: a replay runs alone on the partition, so its records keep their order.
                    if (!await _processor.CheckParkedAsync(Partition.Topic, Partition.Partition.Value, Parking, _routes.Read, _stopping.Token, _aborting.Token).ConfigureAwait(false))
                    {
                        return;
                    }

                    nextParkedCheck = Stopwatch.GetTimestamp() + (long)(_parkedCheckInterval.TotalSeconds * Stopwatch.Frequency);
                }

                if (!await WaitForRecordsAsync().ConfigureAwait(false))
                {
                    if (_stopping.IsCancellationRequested || _queue.Reader.Completion.IsCompleted)
                    {
                        return;
                    }

                    continue;
                }

                records.Clear();
                long bytes = 0;
                while (records.Count < _maxBatchSize && _queue.Reader.TryRead(out var record))
                {
                    records.Add(record);
                    bytes += Size(record);
                }

                items.Clear();
                foreach (var record in records)
                {
                    items.Add(_routes.Read(record));
                }

                IReadOnlyList<InboxItem>? batch = items;
                if (_processor.RoutesByTenant)
                {
                    // Each tenant met for the first time: its stored offset and parked keys; records it finished are skipped.
                    var openedBefore = _openedTenants.Count;
                    batch = await _processor.PrepareTenantsAsync(items, _openedTenants, Parking, _stopping.Token, _aborting.Token).ConfigureAwait(false);
                    if (batch is null)
                    {
                        return;
                    }

                    if (_openedTenants.Count > openedBefore && Parking.HasRows)
                    {
                        // A tenant just opened may have replay requests: they run before its new records.
                        if (!await _processor.CheckParkedAsync(Partition.Topic, Partition.Partition.Value, Parking, _routes.Read, _stopping.Token, _aborting.Token).ConfigureAwait(false))
                        {
                            return;
                        }

                        nextParkedCheck = Stopwatch.GetTimestamp() + (long)(_parkedCheckInterval.TotalSeconds * Stopwatch.Frequency);
                    }
                }

                var done = await _processor.ProcessAsync(batch, Parking, next => _completed(this, next), _stopping.Token, _aborting.Token).ConfigureAwait(false);
                Interlocked.Add(ref _buffered, -records.Count);
                AddBytes(-bytes);
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
