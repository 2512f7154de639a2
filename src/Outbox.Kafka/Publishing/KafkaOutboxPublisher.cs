using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Outbox.Providers;

namespace Outbox.Kafka.Publishing;

/// <summary>
/// Publishes outbox rows with one idempotent Confluent.Kafka producer (acks=all): every record is handed to
/// <c>Produce</c> with a delivery handler, so a batch costs one wait, not one per record. A fatal producer error (for
/// example an out-of-order sequence) retires the producer; the next batch gets a new one.
/// </summary>
/// <remarks>
/// The delivery time limit (<c>message.timeout.ms</c>) is enforced here, not by librdkafka
/// (<see cref="ProducerConfigFactory.TakeDeliveryTimeout"/>): librdkafka times out each queued record on its own, so a
/// record handed over a moment after one that timed out could still be delivered if the brokers came back in between,
/// ahead of the earlier record's retry. Here, when a batch has waited longer than the limit, the producer is closed to
/// new batches, every record it has not acknowledged fails as transient (<c>Local_MsgTimedOut</c>), and it is disposed
/// (which drops its queue) and replaced: what can still reach the brokers from it is, per partition, the oldest of its
/// unacknowledged records, in order, never a record behind one that failed.
/// </remarks>
internal sealed class KafkaOutboxPublisher : IOutboxPublisher
{
    private static readonly TimeSpan s_queueFullDelay = TimeSpan.FromMilliseconds(5);

    private readonly ProducerConfig _config;
    private readonly KafkaRecordFactory _records;
    private readonly TimeSpan _flushTimeout;
    private readonly PublishTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly TimeSpan? _deliveryTimeout;
    private readonly ITimer? _watchdog;
    private ProducerGeneration _current;
    private int _generations;
    private int _disposed;

    public KafkaOutboxPublisher(
        KafkaOptions kafkaOptions, OutboxOptions outboxOptions, PublishTelemetry telemetry, ILogger<KafkaOutboxPublisher> logger, PublisherDefaults? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(kafkaOptions);
        ArgumentNullException.ThrowIfNull(outboxOptions);
        _config = ProducerConfigFactory.Create(kafkaOptions, defaults?.LingerMs ?? ProducerConfigFactory.DefaultLingerMs, outboxOptions.MaxPayloadBytes);
        CheckPayloadFits(_config, outboxOptions.MaxPayloadBytes);
        _deliveryTimeout = ProducerConfigFactory.TakeDeliveryTimeout(_config);
        _records = new KafkaRecordFactory(outboxOptions);
        _flushTimeout = kafkaOptions.FlushTimeout;
        _telemetry = telemetry;
        _logger = logger;

        // Built now, so that a bad producer setting fails when the host starts, not at the first event.
        _current = CreateGeneration();
        if (_deliveryTimeout is { } timeout)
        {
            var period = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 10, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
            _watchdog = TimeProvider.System.CreateTimer(_ => CheckDeliveryTimeout(), null, period, period);
        }
    }

    /// <summary>Gets the delivery time limit the publisher enforces; <see langword="null"/>: none.</summary>
    internal TimeSpan? DeliveryTimeout => _deliveryTimeout;

    /// <summary>
    /// Refuses to start when the producer's <c>message.max.bytes</c> (set by the application) is below what the write path
    /// accepts: such events would be written, then refused by the producer and parked.
    /// </summary>
    internal static void CheckPayloadFits(ProducerConfig config, int maxPayloadBytes)
    {
        var limit = config.MessageMaxBytes ?? ProducerConfigFactory.LibrdkafkaMessageMaxBytes;
        var needed = (long)maxPayloadBytes + ProducerConfigFactory.RecordOverheadBytes;
        if (limit < needed)
        {
            throw new OutboxConfigurationException(
                $"KafkaOptions.Producer.MessageMaxBytes (message.max.bytes) is {limit} bytes, but OutboxOptions.MaxPayloadBytes accepts payloads of " +
                $"{maxPayloadBytes} bytes, and a record also carries its key and headers ({ProducerConfigFactory.RecordOverheadBytes} bytes are reserved for them): " +
                $"events the write path accepts would be refused by the producer. Raise MessageMaxBytes to at least {needed}, or lower MaxPayloadBytes to at most " +
                $"{limit - ProducerConfigFactory.RecordOverheadBytes}. (Leave MessageMaxBytes unset and the relay sizes it from MaxPayloadBytes.)");
        }
    }

    /// <summary>Gets how many producers were created so far (1 + the fatal-error replacements).</summary>
    internal int ProducerGenerations => Volatile.Read(ref _generations);

    public async ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var handOver = await HandOverAsync(messages, cancellationToken).ConfigureAwait(false);
        return await handOver.Results.ConfigureAwait(false);
    }

    public async ValueTask<PublishHandOver> HandOverAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var results = new PublishResult[messages.Count];
        if (results.Length == 0)
        {
            return new PublishHandOver(false, Task.FromResult(results));
        }

        var generation = HealthyGeneration();
        while (!generation.TryEnter())
        {
            generation = HealthyGeneration();
        }

        var batch = new DeliveryBatch(results);
        generation.Track(batch);
        var refused = false;
        try
        {
            for (var i = 0; i < messages.Count; i++)
            {
                var failure = await ProduceAsync(generation, batch, i, messages[i], cancellationToken).ConfigureAwait(false);
                if (failure is { } error)
                {
                    // Nothing may overtake a record that could not even be handed over.
                    refused = true;
                    results[i] = error;
                    for (var j = i + 1; j < results.Length; j++)
                    {
                        results[j] = PublishResult.NotAttempted;
                    }

                    break;
                }
            }

            batch.Sealed();
        }
        catch
        {
            generation.Untrack(batch);
            throw;
        }
        finally
        {
            generation.Exit();
        }

        return new PublishHandOver(refused, AwaitDeliveriesAsync(generation, batch, results, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_watchdog is not null)
        {
            await _watchdog.DisposeAsync().ConfigureAwait(false);
        }

        ProducerGeneration generation;
        lock (_gate)
        {
            generation = _current;
        }

        var producer = generation.Producer;
        var outstanding = await Task.Run(() => producer.Flush(_flushTimeout)).ConfigureAwait(false);
        if (outstanding > 0)
        {
            Log.FlushTimedOut(_logger, outstanding, _flushTimeout);
        }

        producer.Dispose();
        generation.FailOutstanding("The Kafka publisher was disposed before the broker acknowledged the record.");
    }

    private static async Task<PublishResult[]> AwaitDeliveriesAsync(ProducerGeneration generation, DeliveryBatch batch, PublishResult[] results, CancellationToken cancellationToken)
    {
        try
        {
            await batch.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            return results;
        }
        finally
        {
            generation.Untrack(batch);
        }
    }

    private async ValueTask<PublishResult?> ProduceAsync(
        ProducerGeneration generation, DeliveryBatch batch, int index, OutboxRecord message, CancellationToken cancellationToken)
    {
        var producer = generation.Producer;
        var record = KafkaRecordFactory.CreateMessage(message);
        var topic = _records.GetTopic(message);
        var activity = PublishTelemetry.StartSend(topic, message);
        while (true)
        {
            if (generation.IsClosed)
            {
                // The producer ran out of time while this batch waited for room in its queue: nothing more goes to it.
                _telemetry.Failed(activity, topic, TimedOutError);
                return KafkaErrorClassifier.ProducerGone(TimedOutError);
            }

            var handler = _telemetry.Wrap(activity, topic, batch.Expect(index));
            try
            {
                producer.Produce(topic, record, handler);
                return null;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // librdkafka's queue is full: wait for deliveries to drain it rather than failing the record, and keep
                // its slot open for the report of the next hand-over.
                batch.Withdraw(index);
                await Task.Delay(s_queueFullDelay, cancellationToken).ConfigureAwait(false);
            }
            catch (KafkaException ex)
            {
                batch.Unexpect(index);
                _telemetry.Failed(activity, topic, DeliveryBatch.Describe(ex.Error));
                return PublishResult.Failed(DeliveryBatch.Describe(ex.Error), KafkaErrorClassifier.Classify(ex.Error));
            }
            catch (ObjectDisposedException)
            {
                batch.Unexpect(index);
                _telemetry.Failed(activity, topic, "The Kafka producer was disposed.");
                return KafkaErrorClassifier.ProducerGone("The Kafka producer was disposed (fatal error or shutdown).");
            }
        }
    }

    private const string TimedOutError =
        "Local_MsgTimedOut: Local: Message timed out (not acknowledged within message.timeout.ms; the producer was replaced so that no later record overtakes it)";

    /// <summary>
    /// The watchdog: when a batch of the current producer has waited longer than the delivery time limit, closes the
    /// producer to new batches, fails every record it has not acknowledged, and disposes and replaces it.
    /// </summary>
    internal void CheckDeliveryTimeout()
    {
        if (_deliveryTimeout is not { } timeout || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        var current = Volatile.Read(ref _current);
        var waiting = current.CountWaitingAtLeast(timeout);
        if (waiting == 0 || current.IsFatal)
        {
            return;
        }

        lock (_gate)
        {
            if (!ReferenceEquals(_current, current) || Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            _current = CreateGeneration();
        }

        Log.DeliveryTimedOut(_logger, waiting, timeout, current.Number);
        current.CloseAndWait();

        // Fail first (a late acknowledgement then finds the record settled: it is sent again, a duplicate), then destroy
        // the producer, which drops what it still queues. Until then it may still send: with no time limit of its own it
        // sends each partition's records in order and never one behind a record it gave up, so whatever reaches the
        // brokers is the oldest of them, and the relay's retry starts at the oldest failed one.
        current.FailOutstanding(TimedOutError);
        Retire(current);
    }

    private ProducerGeneration HealthyGeneration()
    {
        var current = Volatile.Read(ref _current);
        if (!current.IsFatal && !current.IsClosed)
        {
            return current;
        }

        lock (_gate)
        {
            if (_current.IsFatal)
            {
                var retired = _current;
                _current = CreateGeneration();
                _ = Task.Run(() => Retire(retired));
            }

            return _current;
        }
    }

    private ProducerGeneration CreateGeneration()
    {
        var generation = new ProducerGeneration(Interlocked.Increment(ref _generations));
        generation.Producer = new ProducerBuilder<byte[], byte[]>(_config)
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal)
                {
                    generation.MarkFatal();
                    Log.ProducerFatalError(_logger, error.Code, error.Reason);
                }
                else
                {
                    Log.ProducerError(_logger, error.Code, error.Reason);
                }
            })
            .SetLogHandler((_, message) => Log.Librdkafka(_logger, message))
            .Build();
        Log.ProducerCreated(_logger, generation.Number);
        return generation;
    }

    private void Retire(ProducerGeneration generation)
    {
        try
        {
            // After a fatal error librdkafka fails every queued record itself; whatever is left never gets a report.
            generation.Producer.Dispose();
        }
        catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
        {
            Log.RetireFailed(_logger, ex);
        }
        finally
        {
            generation.FailOutstanding("The Kafka producer hit a fatal error and was replaced before the record was acknowledged.");
        }
    }
}
