using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Outbox.Inbox;
using Outbox.Providers;

namespace Outbox.Kafka.Consuming;

/// <summary>
/// One consumer group of the inbox, built by the container (<c>AddConsumer</c>): reads the group's topics and hands
/// records to one <see cref="PartitionWorker"/> per assigned partition (partitions in parallel, order within each). On
/// assignment it resumes every partition from the offset stored in the database with the last handled record; the
/// Kafka offset is stored only after that database transaction committed, and is committed by the client afterwards.
/// On revocation it lets in-flight work finish (or cancels it after <see cref="InboxConsumerOptions.ShutdownTimeout"/>) before
/// the partition moves on, and never stores an offset for a partition it no longer owns. <see cref="InboxConsumerHost"/>
/// runs its poll loop; <see cref="PollOnce"/> is one iteration.
/// </summary>
internal sealed class InboxConsumer : IDisposable
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(100);

    // While a partition is paused the poll thread must notice soon that its worker drained: Consume cannot be woken.
    private static readonly TimeSpan PausedPollTimeout = TimeSpan.FromMilliseconds(5);

    private readonly string _group;
    private readonly Type _dbContextType;
    private readonly InboxConsumerOptions _options;
    private readonly ConsumerConfig _consumerConfig;
    private readonly InboxRoutes _routes;
    private readonly IInboxStore _store;
    private readonly KafkaDeadLetterPublisher _deadLetters;
    private readonly InboxProcessor _processor;
    private readonly SemaphoreSlim _concurrency;
    private readonly InboxProgress _progress;
    private readonly InboxTelemetry _telemetry;
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger _logger;
    private readonly int _bufferLimit;
    private readonly Dictionary<TopicPartition, PartitionWorker> _workers = [];
    private readonly ConcurrentQueue<(PartitionWorker Worker, long NextOffset)> _completions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();
    private IConsumer<byte[]?, byte[]?>? _consumer;
    private volatile bool _fatal;
    private long _bufferedBytes;
    private long _peakBufferedBytes;
    private bool _budgetPaused;
    private int _pausedCount;
    private int _disposed;

    /// <summary>Initializes a new instance of the <see cref="InboxConsumer"/> class from the parts the container built for the group.</summary>
    public InboxConsumer(
        string group,
        Type dbContextType,
        InboxConsumerOptions options,
        ConsumerConfig consumerConfig,
        InboxRoutes routes,
        IInboxStore store,
        KafkaDeadLetterPublisher deadLetters,
        InboxProcessor processor,
        SemaphoreSlim concurrency,
        InboxProgress progress,
        InboxTelemetry telemetry,
        IServiceScopeFactory scopes,
        ILogger logger)
    {
        _group = group;
        _dbContextType = dbContextType;
        _options = options;
        _consumerConfig = consumerConfig;
        _routes = routes;
        _store = store;
        _deadLetters = deadLetters;
        _processor = processor;
        _concurrency = concurrency;
        _progress = progress;
        _telemetry = telemetry;
        _scopes = scopes;
        _logger = logger;

        // Room for the batch being handled and the next one, so that a worker never waits for a fetch.
        _bufferLimit = Math.Max(options.MaxBufferedRecordsPerPartition, 2 * options.MaxBatchSize);
    }

    public string ConsumerGroup => _group;

    /// <summary>Gets the topics the group reads.</summary>
    public IReadOnlyList<string> Topics => _routes.Topics;

    /// <summary>Gets the bytes of the records read ahead and not yet finished, over all partitions.</summary>
    internal long BufferedBytes => Interlocked.Read(ref _bufferedBytes);

    /// <summary>Gets the most bytes ever read ahead at once (see <see cref="InboxConsumerOptions.MaxBufferedBytes"/>).</summary>
    internal long PeakBufferedBytes => Interlocked.Read(ref _peakBufferedBytes);

    /// <summary>Gets how long the next <see cref="PollOnce"/> may wait for a record: briefly while a partition is paused.</summary>
    internal TimeSpan NextPollTimeout => _pausedCount > 0 ? PausedPollTimeout : PollTimeout;

    /// <summary>Gets the token that is cancelled when the consumer is asked to stop.</summary>
    internal CancellationToken Stopping => _stop.Token;

    /// <summary>Joins the group: creates the Kafka consumer and subscribes to the group's topics.</summary>
    public void Start()
    {
        _progress.Started(_group);
        _telemetry.AddSource(_progress);
        _consumer = BuildConsumer();
        _consumer.Subscribe(_routes.Topics);
        Log.Started(_logger, _group, string.Join(", ", _routes.Topics));
    }

    /// <summary>Asks the poll loop to stop; in-flight work may finish (graceful).</summary>
    public void RequestStop()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _stop.Cancel();
        }
    }

    /// <summary>Cancels in-flight work (the host ran out of shutdown time).</summary>
    public void Abort()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _abort.Cancel();
        }
    }

    /// <summary>Waits after an unexpected failure of an iteration, unless stopping.</summary>
    internal void PauseAfterFailure() => _stop.Token.WaitHandle.WaitOne(PollTimeout);

    internal void LogPollFailure(Exception ex) => Log.ConsumeFailed(_logger, ex, _group);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _abort.Cancel();
        _consumer?.Dispose();
        _deadLetters.Dispose();
        _concurrency.Dispose();
        _stop.Dispose();
        _abort.Dispose();
    }

    /// <summary>One iteration of the poll loop: store finished offsets, resume drained partitions, read one record.</summary>
    internal void PollOnce(TimeSpan timeout)
    {
        StoreCompletedOffsets();
        ResumeDrainedPartitions();
        if (_fatal)
        {
            RecreateConsumer();
            return;
        }

        ConsumeResult<byte[]?, byte[]?>? result;
        try
        {
            result = _consumer!.Consume(timeout);
        }
        catch (ConsumeException ex)
        {
            Log.ConsumeFailed(_logger, ex, _group);
            return;
        }

        if (result is null || result.IsPartitionEOF)
        {
            return;
        }

        if (!_workers.TryGetValue(result.TopicPartition, out var worker) || result.Offset.Value < worker.NextExpectedOffset)
        {
            return;
        }

        worker.NextExpectedOffset = result.Offset.Value + 1;
        worker.Enqueue(ToRecord(result));
        if (BufferedBytes >= _options.MaxBufferedBytes)
        {
            // The byte budget is for the whole consumer: every partition pauses until half of it drained.
            var pause = _workers.Values.Where(w => !w.Paused).ToList();
            foreach (var w in pause)
            {
                w.Paused = true;
                _pausedCount++;
            }

            if (pause.Count > 0)
            {
                _consumer.Pause(pause.Select(w => w.Partition).ToList());
            }

            _budgetPaused = true;
        }
        else if (!worker.Paused && worker.Buffered >= _bufferLimit)
        {
            _consumer.Pause([result.TopicPartition]);
            worker.Paused = true;
            _pausedCount++;
        }
    }

    private void BytesChanged(long bytes)
    {
        var now = Interlocked.Add(ref _bufferedBytes, bytes);
        if (bytes > 0)
        {
            long peak;
            while (now > (peak = Interlocked.Read(ref _peakBufferedBytes)) && Interlocked.CompareExchange(ref _peakBufferedBytes, now, peak) != peak)
            {
            }
        }
    }

    /// <summary>Reports how many records wait in each partition worker.</summary>
    internal void ReportWaiting()
    {
        foreach (var worker in _workers.Values)
        {
            _progress.SetWaiting(_group, worker.Partition.Topic, worker.Partition.Partition.Value, worker.Buffered);
        }
    }

    /// <summary>Stops every partition worker (gracefully), commits and leaves the group: the end of the poll thread.</summary>
    internal void Shutdown()
    {
        StopWorkers([.. _workers.Keys], abandon: false);
        _progress.Stopped(_group);
        _telemetry.RemoveSource(_progress);

        try
        {
            // Commits the stored offsets (when auto-commit is on) and leaves the group, so that the partitions move on at once.
            _consumer?.Close();
        }
        catch (KafkaException ex)
        {
            Log.ConsumeFailed(_logger, ex, _group);
        }

        Log.Stopped(_logger, _group);
    }

    private IConsumer<byte[]?, byte[]?> BuildConsumer() =>
        new ConsumerBuilder<byte[]?, byte[]?>(_consumerConfig)
            .SetPartitionsAssignedHandler((_, partitions) => OnAssigned(partitions))
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions))
            .SetPartitionsLostHandler((_, partitions) => OnLost(partitions))
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal)
                {
                    _fatal = true;
                    Log.FatalError(_logger, _group, error.Code, error.Reason);
                }
                else
                {
                    Log.ConsumerError(_logger, _group, error.Code, error.Reason);
                }
            })
            .SetLogHandler((_, message) => Log.ClientLog(_logger, message.Facility, message.Message))
            .Build();

    private void RecreateConsumer()
    {
        StopWorkers([.. _workers.Keys], abandon: true);
        _consumer?.Dispose();
        _fatal = false;
        _consumer = BuildConsumer();
        _consumer.Subscribe(_routes.Topics);
    }

    private List<TopicPartitionOffset> OnAssigned(List<TopicPartition> partitions)
    {
        if (partitions.Count > 0)
        {
            Log.Assigned(_logger, _group, Describe(partitions));
        }

        // With tenant routing the offsets and parked keys live in the tenants' databases: each partition's worker reads
        // a tenant's when it meets the tenant, and the partition starts at Kafka's committed offset, which never passes
        // a finished record (a record stored past in its tenant's database is skipped there).
        var routed = _processor.RoutesByTenant;
        var stored = routed ? new Dictionary<(string Topic, int Partition), long>() : ReadStoredOffsets(partitions);
        var parked = routed ? [] : ReadParkedKeys(partitions);
        var result = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var partition in partitions)
        {
            var next = stored.TryGetValue((partition.Topic, partition.Partition.Value), out var offset) ? offset : -1;
            if (!_workers.ContainsKey(partition))
            {
                // A new owner knows the partition's parked keys before it handles any record: their records stay held.
                var parking = new PartitionParking(parked.GetValueOrDefault(partition) ?? []);
                var worker = new PartitionWorker(
                    partition, next, _processor, _routes, parking, _options.MaxBatchSize, _options.ParkedCheckInterval, BytesChanged,
                    (w, nextOffset) =>
                    {
                        _completions.Enqueue((w, nextOffset));
                        _progress.RecordFinished(_group, w.Partition.Topic, w.Partition.Partition.Value);
                    },
                    _logger,
                    _abort.Token);
                _workers.Add(partition, worker);
                _progress.Assigned(_group, partition.Topic, partition.Partition.Value, parking);
                worker.Start();
            }

            // The database is the source of truth: its offset wins over Kafka's committed one, which may lag behind
            // (a crash between the database commit and the Kafka commit). Without a stored offset, Kafka's applies.
            result.Add(new TopicPartitionOffset(partition, next >= 0 ? new Offset(next) : Offset.Unset));
        }

        return result;
    }

    private void OnRevoked(List<TopicPartitionOffset> partitions)
    {
        var owned = partitions.Select(p => p.TopicPartition).Where(_workers.ContainsKey).ToList();
        if (owned.Count > 0)
        {
            Log.Revoked(_logger, _group, Describe(owned));
        }

        StopWorkers(owned, abandon: false);
    }

    private void OnLost(List<TopicPartitionOffset> partitions)
    {
        var owned = partitions.Select(p => p.TopicPartition).Where(_workers.ContainsKey).ToList();
        Log.Lost(_logger, _group, Describe(owned));
        StopWorkers(owned, abandon: true);
    }

    /// <summary>
    /// Stops the workers of the partitions and forgets them. Graceful: running transactions may finish within
    /// <see cref="InboxConsumerOptions.ShutdownTimeout"/>, and the offsets they complete are stored while the partitions are
    /// still assigned. Abandon (partitions lost): running transactions are cancelled and nothing more is stored.
    /// </summary>
    private void StopWorkers(List<TopicPartition> partitions, bool abandon)
    {
        if (partitions.Count == 0)
        {
            return;
        }

        var workers = partitions.Select(p => _workers[p]).ToList();
        var paused = workers.Where(w => w.Paused).Select(w => w.Partition).ToList();
        if (paused.Count > 0 && !abandon)
        {
            // A pause outlives the assignment in librdkafka: lift it before the partition leaves.
            _consumer!.Resume(paused);
        }

        var stopped = workers.Select(w => abandon ? w.AbortAsync() : w.StopAsync(_options.ShutdownTimeout)).ToArray();

        // Rebalance callbacks are synchronous and run on this host's own poll thread: the partition's work must be
        // over before the callback returns and the partition goes to another member. Worker tasks never fault.
        Task.WhenAll(stopped).GetAwaiter().GetResult();

        if (!abandon)
        {
            StoreCompletedOffsets();
        }

        foreach (var worker in workers)
        {
            if (worker.Paused)
            {
                worker.Paused = false;
                _pausedCount--;
            }

            _workers.Remove(worker.Partition);
            _progress.Unassigned(_group, worker.Partition.Topic, worker.Partition.Partition.Value);
            worker.Dispose();
        }

        if (abandon)
        {
            // Completions of the abandoned workers are dropped by StoreCompletedOffsets: they are no longer current.
            StoreCompletedOffsets();
        }
    }

    private IReadOnlyDictionary<(string Topic, int Partition), long> ReadStoredOffsets(List<TopicPartition> partitions)
    {
        var topics = partitions.Select(p => p.Topic).Distinct(StringComparer.Ordinal).ToList();

        // Without the stored offsets the partitions cannot start safely: wait for the database. When stopping, no
        // record of these partitions will be handled, so any start position is safe.
        return ReadUntilStopped(db => _store.ReadOffsets(db, _group, topics), new Dictionary<(string Topic, int Partition), long>());
    }

    private Dictionary<TopicPartition, IReadOnlyList<InboxParkedKey>> ReadParkedKeys(List<TopicPartition> partitions) =>
        // Without the parked keys a held record could be handled out of order: wait for the database. When stopping,
        // no record of these partitions will be handled.
        ReadUntilStopped(
            db =>
            {
                var keys = new Dictionary<TopicPartition, IReadOnlyList<InboxParkedKey>>();
                foreach (var partition in partitions)
                {
                    keys[partition] = _store.ReadParkedKeys(db, _group, partition.Topic, partition.Partition.Value);
                }

                return keys;
            },
            []);

    /// <summary>Reads what newly assigned partitions need, retrying with backoff until it succeeds or the consumer stops.</summary>
    private T ReadUntilStopped<T>(Func<DbContext, T> read, T whenStopping)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                using var scope = _scopes.CreateScope();
                return read((DbContext)scope.ServiceProvider.GetRequiredService(_dbContextType));
            }
            catch (Exception ex) when (!_stop.IsCancellationRequested && ex is not OutboxConfigurationException)
            {
                failures++;
                var delay = RetryBackoff.Delay(failures, _options.InitialRetryDelay, _options.MaxRetryDelay);
                Log.ReadOffsetsFailed(_logger, ex, _group, delay);
                _stop.Token.WaitHandle.WaitOne(delay);
            }

            if (_stop.IsCancellationRequested)
            {
                return whenStopping;
            }
        }
    }

    private void StoreCompletedOffsets()
    {
        if (_completions.IsEmpty)
        {
            return;
        }

        var latest = new Dictionary<PartitionWorker, long>();
        while (_completions.TryDequeue(out var completion))
        {
            latest[completion.Worker] = completion.NextOffset;
        }

        foreach (var (worker, next) in latest)
        {
            // Only for the worker that currently owns the partition: a revoked or lost partition is never stored.
            if (!_workers.TryGetValue(worker.Partition, out var current) || !ReferenceEquals(current, worker))
            {
                continue;
            }

            try
            {
                _consumer!.StoreOffset(new TopicPartitionOffset(worker.Partition, next));
            }
            catch (KafkaException ex)
            {
                Log.StoreOffsetFailed(_logger, ex, worker.Partition.Topic, worker.Partition.Partition.Value, next);
            }
        }
    }

    private void ResumeDrainedPartitions()
    {
        if (_budgetPaused)
        {
            if (BufferedBytes > _options.MaxBufferedBytes / 2)
            {
                return;
            }

            _budgetPaused = false;
        }

        List<TopicPartition>? resume = null;
        foreach (var worker in _workers.Values)
        {
            if (worker.Paused && worker.Buffered <= _bufferLimit / 2)
            {
                worker.Paused = false;
                _pausedCount--;
                (resume ??= []).Add(worker.Partition);
            }
        }

        if (resume is not null)
        {
            _consumer!.Resume(resume);
        }
    }

    private static InboxRecord ToRecord(ConsumeResult<byte[]?, byte[]?> result)
    {
        var message = result.Message;
        string? id = null;
        string? type = null;
        var headers = new List<KeyValuePair<string, byte[]?>>(message.Headers?.Count ?? 0);
        if (message.Headers is not null)
        {
            foreach (var header in message.Headers)
            {
                var value = header.GetValueBytes();
                headers.Add(new KeyValuePair<string, byte[]?>(header.Key, value));
                if (value is null)
                {
                    continue;
                }

                if (header.Key == KafkaHeaderNames.Id)
                {
                    id = Encoding.UTF8.GetString(value);
                }
                else if (header.Key == KafkaHeaderNames.Type)
                {
                    type = Encoding.UTF8.GetString(value);
                }
            }
        }

        return new InboxRecord
        {
            Topic = result.Topic,
            Partition = result.Partition.Value,
            Offset = result.Offset.Value,
            Id = id,
            Type = type,
            Key = message.Key,
            Value = message.Value,
            Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(message.Timestamp.UnixTimestampMs),
            Headers = headers,
        };
    }

    private static string Describe(IEnumerable<TopicPartition> partitions) =>
        string.Join(", ", partitions.Select(p => $"{p.Topic}[{p.Partition.Value}]"));
}
