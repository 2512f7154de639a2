using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// One replication session: streams the slot, publishes rows in stream (commit) order without waiting for each batch,
/// and confirms positions only past rows whose every predecessor the broker acknowledged.
/// </summary>
/// <remarks>
/// Three loops share a <see cref="CdcProgress"/>: the reader decodes and hands batches to the publisher (up to
/// <see cref="CdcRelayOptions.MaxInFlightBatches"/> waiting); the acknowledger awaits them in order; the flusher
/// periodically deletes acknowledged rows and then confirms the position, in that order, so a crash between the two
/// only replays rows (their inserts are still in the WAL), and every confirmed row is gone from the table.
/// </remarks>
internal sealed class CdcStreamSession : IDisposable
{
    private readonly LogicalReplicationConnection _connection;
    private readonly CdcStore _store;
    private readonly IOutboxPublisher _publisher;
    private readonly CdcAcknowledger _acknowledger;
    private readonly CdcRelayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CdcRowDecoder _decoder;
    private readonly CdcProgress _progress = new(0);
    private readonly Channel<CdcInFlightBatch> _inFlight;
    private readonly CancellationTokenSource _readerStop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _ending = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _dispatchGate = new(1, 1);
    private volatile bool _draining;
    private ExceptionDispatchInfo? _failure;
    private bool _confirmsBlocked;

    public CdcStreamSession(
        LogicalReplicationConnection connection,
        CdcStore store,
        IOutboxPublisher publisher,
        CdcAcknowledger acknowledger,
        CdcRelayOptions options,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _connection = connection;
        _store = store;
        _publisher = publisher;
        _acknowledger = acknowledger;
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        _decoder = new CdcRowDecoder(store.Names.Schema, store.Names.MessagesTable);
        _inFlight = Channel.CreateBounded<CdcInFlightBatch>(new BoundedChannelOptions(options.MaxInFlightBatches)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Gets the progress of this session.</summary>
    public CdcProgress Progress => _progress;

    /// <summary>
    /// Streams until <paramref name="stoppingToken"/> fires (then drains what is in flight for up to
    /// <see cref="CdcRelayOptions.ShutdownTimeout"/> and returns) or something fails (then throws).
    /// </summary>
    /// <remarks>
    /// Ending always drains while the stream is still open: dispatching stops, the batches in flight settle, the
    /// acknowledged rows are deleted and their position confirmed (a status update can only be sent while streaming),
    /// and only then is the stream cancelled.
    /// </remarks>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var flushStop = new CancellationTokenSource();
        var stopping = stoppingToken.Register(() => _ending.TrySetResult());
        try
        {
            var reader = Task.Run(ReadAsync, CancellationToken.None);
            var acknowledger = AcknowledgeAsync();
            var flusher = FlushLoopAsync(flushStop.Token);

            await Task.WhenAny(_ending.Task, reader).ConfigureAwait(false);
            if (stoppingToken.IsCancellationRequested)
            {
                _abort.CancelAfter(_options.ShutdownTimeout);
            }

            await StopDispatchingAsync().ConfigureAwait(false);
            await Observe(acknowledger).ConfigureAwait(false);
            await flushStop.CancelAsync().ConfigureAwait(false);
            await Observe(flusher).ConfigureAwait(false);
            if (_abort.IsCancellationRequested && stoppingToken.IsCancellationRequested)
            {
                Log.ShutdownTimedOut(_logger, _options.ShutdownTimeout);
            }

            if (!_confirmsBlocked && !reader.IsCompleted)
            {
                try
                {
                    using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await FlushOnceAsync(limit.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Log.FlushFailed(_logger, ex);
                }
            }

            await _readerStop.CancelAsync().ConfigureAwait(false);
            await Observe(reader).ConfigureAwait(false);
            _failure?.Throw();
        }
        finally
        {
            await stopping.DisposeAsync().ConfigureAwait(false);
            flushStop.Dispose();
        }
    }

    /// <summary>Disposes the session's cancellation sources; call it after <see cref="RunAsync"/> completed.</summary>
    public void Dispose()
    {
        _readerStop.Dispose();
        _abort.Dispose();
        _dispatchGate.Dispose();
    }

    /// <summary>Deletes the acknowledged rows, then confirms the position that covers them (one flush iteration).</summary>
    internal async Task FlushOnceAsync(CancellationToken cancellationToken)
    {
        if (_confirmsBlocked)
        {
            return;
        }

        // Read before taking the flush: see CdcProgress.TakeFlush.
        var lastReceived = (ulong)_connection.LastReceivedLsn;
        var (deletes, confirm) = _progress.TakeFlush(lastReceived);
        try
        {
            if (deletes.Count > 0)
            {
                await _store.DeleteMessagesAsync(deletes, cancellationToken).ConfigureAwait(false);
            }

            if (confirm > _progress.Confirmed)
            {
                _connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(confirm));
                await _connection.SendStatusUpdate(cancellationToken).ConfigureAwait(false);
                _progress.MarkConfirmed(confirm);
            }
        }
        catch
        {
            // The rows whose delete failed stay in the table; no later position may be confirmed in this session, so
            // the next session replays them and deletes them then.
            _confirmsBlocked = true;
            throw;
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            var slot = new PgOutputReplicationSlot(_store.Names.SlotName);
            var options = new PgOutputReplicationOptions(_store.Names.PublicationName, PgOutputProtocolVersion.V1, binary: true);
            var token = _readerStop.Token;
            var stream = _connection.StartReplication(slot, options, token);
            var enumerator = stream.GetAsyncEnumerator(token);
            await using (enumerator.ConfigureAwait(false))
            {
                var batch = NewBatch();
                while (true)
                {
                    var next = enumerator.MoveNextAsync();
                    if (!next.IsCompleted && batch.Count > 0)
                    {
                        // Nothing more is buffered: publish what we have rather than wait for more.
                        await DispatchAsync(batch, token).ConfigureAwait(false);
                        batch = NewBatch();
                    }

                    if (!await next.ConfigureAwait(false))
                    {
                        break;
                    }

                    if (_draining)
                    {
                        // Ending: leave this message unhandled (the next session streams it again) but keep the
                        // stream open, so that the final position can still be confirmed.
                        await Task.Delay(Timeout.InfiniteTimeSpan, token).ConfigureAwait(false);
                    }

                    switch (enumerator.Current)
                    {
                        case BeginMessage:
                            _progress.Begin();
                            break;
                        case RelationMessage relation:
                            _decoder.OnRelation(relation);
                            break;
                        case InsertMessage insert:
                            var message = await _decoder.DecodeAsync(insert, token).ConfigureAwait(false);
                            if (message is not null)
                            {
                                batch.Add(message);
                                _progress.RowDecoded();
                            }

                            break;
                        case CommitMessage commit:
                            _progress.Commit((ulong)commit.TransactionEndLsn);
                            break;
                    }

                    if (batch.Count >= _options.MaxBatchSize)
                    {
                        await DispatchAsync(batch, token).ConfigureAwait(false);
                        batch = NewBatch();
                    }
                }
            }

            throw new OutboxException("The server ended the replication stream.");
        }
        catch (Exception) when (_readerStop.IsCancellationRequested)
        {
            // Stopping, or another loop failed and stopped us (Npgsql reports a cancelled stream in several ways).
        }
        finally
        {
            _inFlight.Writer.TryComplete();
        }
    }

    private List<OutboxMessage> NewBatch() => new(Math.Min(_options.MaxBatchSize, 256));

    private async ValueTask DispatchAsync(List<OutboxMessage> batch, CancellationToken cancellationToken)
    {
        await _dispatchGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Wait for room first, then publish: publish calls must reach the producer in stream order.
            if (_draining || !await _inFlight.Writer.WaitToWriteAsync(cancellationToken).ConfigureAwait(false) || _draining)
            {
                // Ending: these rows are not acknowledged, so the next session streams them again.
                return;
            }

            Task<PublishResult[]> results;
            try
            {
                results = _publisher.PublishAsync(batch, _abort.Token).AsTask();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                results = Task.FromException<PublishResult[]>(ex);
            }

            if (!_inFlight.Writer.TryWrite(new CdcInFlightBatch(batch, results)))
            {
                throw new InvalidOperationException("The in-flight queue refused a batch after making room for it.");
            }
        }
        finally
        {
            _dispatchGate.Release();
        }
    }

    /// <summary>No batch is handed to the publisher after this; the acknowledger settles what is in flight and ends.</summary>
    private async Task StopDispatchingAsync()
    {
        _draining = true;
        await _dispatchGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            _inFlight.Writer.TryComplete();
        }
        finally
        {
            _dispatchGate.Release();
        }
    }

    private async Task AcknowledgeAsync()
    {
        var settling = true;
        await foreach (var batch in _inFlight.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                var results = await batch.Results.WaitAsync(_abort.Token).ConfigureAwait(false);
                if (!settling)
                {
                    // After a failure only the prefix before it counts: the next session publishes the rest again.
                    continue;
                }

                var (done, error) = await _acknowledger.SettleAsync(batch.Messages, results, _abort.Token).ConfigureAwait(false);
                _progress.Acknowledge(batch.Messages, done);
                if (done < batch.Messages.Count)
                {
                    settling = false;
                    Fail(new CdcPublishFailedException($"Publishing row {batch.Messages[done].Id} failed: {error}"));
                }
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                // Shutdown time limit: what is still in flight is published again by the next relay.
                settling = false;
            }
            catch (Exception ex)
            {
                if (settling)
                {
                    settling = false;
                    Fail(ex);
                }
            }
        }
    }

    private async Task FlushLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.AcknowledgeInterval, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await FlushOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }
        }
    }

    private void Fail(Exception exception)
    {
        Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(exception), null);
        _ending.TrySetResult();
    }

    private async Task Observe(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_readerStop.IsCancellationRequested || _abort.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }
}
