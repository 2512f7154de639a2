using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// One replication session: streams the slot, publishes rows in stream (commit) order in batches, holds back the rows
/// of held keys, and confirms positions only past rows whose every predecessor is settled (acknowledged by the broker,
/// or held in the outbox table).
/// </summary>
/// <remarks>
/// <para>
/// Four loops share a <see cref="CdcProgress"/>. The reader decodes rows into a bounded queue. The publisher takes
/// whatever the queue holds (up to <see cref="CdcRelayOptions.MaxBatchSize"/>) as one batch once fewer than
/// <see cref="CdcRelayOptions.MaxBatchesInFlight"/> batches await the broker, and hands it to the producer; batches are
/// handed over one after the other, so every partition gets its records in stream order. The settler takes the results
/// of the batches in the order they were handed over, so acknowledgements form a prefix of the stream; after a row the
/// producer refused outright, the publisher hands nothing over until that batch is settled, so no later row overtakes
/// it. The flusher periodically deletes acknowledged rows and then confirms the position, in that order: a crash
/// between the two only replays rows (their inserts are still in the WAL), and every confirmed row is gone from the
/// table unless its key is held. The reader stops decoding while <see cref="CdcRelayOptions.MaxBytesInFlight"/> payload
/// bytes are decoded and not settled.
/// </para>
/// <para>
/// Held keys (<see cref="CdcHeldKeys"/>, loaded from the parked-keys table at start): a row of a held key is not handed
/// to the producer. When a batch has such rows, one query reads their keys' parked rows: a key still held leaves the row
/// in the outbox table (settled: the table row is the durable copy, the slot may confirm past it); a key released at
/// position L skips the rows committed before L (the release inserted them again, or discarded the failed one: the copy
/// has the same id, so nothing is deleted) and flows again from the first row committed after L (or when its parked row
/// is gone). A key whose event fails in a way that counts joins the held keys (ParkingStore.FailAsync records it,
/// retrying or parked), so its later rows wait while every other key goes on. The flusher releases keys whose retry is
/// due (ParkingStore.ReleaseAsync), so their rows stream again, and forgets releases the confirmed position passed.
/// </para>
/// <para>
/// Ending always drains while the stream is still open: the reader pauses, the batches in flight settle, the
/// acknowledged rows are deleted and their position confirmed (a status update can only be sent while streaming),
/// and only then is the stream cancelled. A graceful stop first finishes the transaction being decoded, and hands over
/// everything decoded up to its commit, so that no transaction is left with its first rows acknowledged and its commit
/// unconfirmed (the next session would publish them again).
/// </para>
/// </remarks>
internal sealed class CdcStreamSession : IDisposable
{
    private readonly LogicalReplicationConnection _connection;
    private readonly CdcStore _store;
    private readonly IOutboxPublisher _publisher;
    private readonly CdcAcknowledger _acknowledger;
    private readonly ParkingStore _parking;
    private readonly OutboxOptions _outboxOptions;
    private readonly KeyRetryPolicy _retryPolicy;
    private readonly CdcByteBudget _budget;
    private readonly CdcRelayOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly RelayTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly CdcRowDecoder _decoder;
    private readonly CdcProgress _progress = new(0);
    private readonly Channel<CdcRow> _decoded;
    private readonly Channel<InFlightBatch> _inFlight = Channel.CreateUnbounded<InFlightBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _publishStop = new();
    private readonly CancellationTokenSource _readerStop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _ending = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _boundary = new();
    private bool _readerInTransaction;
    private bool _finishing;
    private static readonly TimeSpan DeleteRetryPeriod = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ForgetReleasedPeriod = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan VisibilityWait = TimeSpan.FromSeconds(30);
    private const int DueRetriesPerCheck = 100;
    private CdcHeldKeys _held = new([]);
    private long _lastForgetReleased;
    private readonly Dictionary<Guid, long> _notYetDeleted = [];
    private volatile bool _draining;
    private volatile bool _aborted;
    private ExceptionDispatchInfo? _failure;
    private bool _confirmsBlocked;

    public CdcStreamSession(
        LogicalReplicationConnection connection,
        CdcStore store,
        IOutboxPublisher publisher,
        CdcAcknowledger acknowledger,
        ParkingStore parking,
        OutboxOptions outboxOptions,
        CdcRelayOptions options,
        TimeProvider timeProvider,
        RelayTelemetry telemetry,
        ILogger logger)
    {
        _parking = parking;
        _outboxOptions = outboxOptions;
        _retryPolicy = new KeyRetryPolicy(options.MaxAttempts, options.InitialRetryDelay, options.MaxRetryDelay);
        _budget = new CdcByteBudget(options.MaxBytesInFlight);
        _connection = connection;
        _store = store;
        _publisher = publisher;
        _acknowledger = acknowledger;
        _options = options;
        _timeProvider = timeProvider;
        _telemetry = telemetry;
        _logger = logger;
        _decoder = new CdcRowDecoder(store.Names.Tables.Schema, store.Names.Tables.MessagesTableName, store.Database);

        // Decoding runs ahead of publishing by at most two batches.
        _slots = new SemaphoreSlim(options.MaxBatchesInFlight, options.MaxBatchesInFlight);
        _decoded = Channel.CreateBounded<CdcRow>(new BoundedChannelOptions(options.MaxBatchSize * 2)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Gets the progress of this session.</summary>
    public CdcProgress Progress => _progress;

    /// <summary>Gets the payload bytes decoded and not settled (now, and the most so far).</summary>
    public (long Now, long Peak) BytesInFlight => (_budget.Used, _budget.Peak);

    /// <summary>Gets how many keys the session holds back now.</summary>
    public int HeldKeys => _held.Count;

    /// <summary>
    /// Streams until <paramref name="stoppingToken"/> fires (then drains what is in flight for up to
    /// <see cref="CdcRelayOptions.ShutdownTimeout"/> and returns) or something fails (then throws).
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        // Before streaming: rows of held keys decoded from the first message on must be held.
        _held = new CdcHeldKeys(await _store.ReadParkedKeysAsync(stoppingToken).ConfigureAwait(false));
        _lastForgetReleased = _timeProvider.GetTimestamp();
        var flushStop = new CancellationTokenSource();
        // A stop bounds the wait for what is in flight by ShutdownTimeout, also when it comes while the session is already
        // ending for another reason (a lost replication connection): the host's stop must not wait for the producer's
        // message timeout. What is not settled by then is published again by the next session (at least once).
        var stopping = stoppingToken.Register(() =>
        {
            _ending.TrySetResult();
            _abort.CancelAfter(_options.ShutdownTimeout);
        });
        try
        {
            var reader = Task.Run(ReadAsync, CancellationToken.None);
            var publisher = Task.Run(PublishAsync, CancellationToken.None);
            var settler = Task.Run(SettleAsync, CancellationToken.None);
            var flusher = FlushLoopAsync(flushStop.Token);

            await Task.WhenAny(_ending.Task, reader, publisher, settler).ConfigureAwait(false);
            if (stoppingToken.IsCancellationRequested)
            {
                Log.Stopping(_logger, _options.ShutdownTimeout);
                if (!_draining)
                {
                    await FinishTransactionAsync(reader, publisher).ConfigureAwait(false);
                }
            }

            // Nothing new is decoded or handed over from now on; the batches in flight settle.
            _draining = true;
            _decoded.Writer.TryComplete();
            await _publishStop.CancelAsync().ConfigureAwait(false);
            await Observe(publisher).ConfigureAwait(false);
            await Observe(settler).ConfigureAwait(false);
            await flushStop.CancelAsync().ConfigureAwait(false);
            await Observe(flusher).ConfigureAwait(false);
            if (_aborted)
            {
                Log.ShutdownTimedOut(_logger, _options.ShutdownTimeout);
            }

            if (!_confirmsBlocked && !reader.IsCompleted)
            {
                try
                {
                    using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await FlushOnceAsync(limit.Token).ConfigureAwait(false);
                    await WaitUntilServerConfirmedAsync(limit.Token).ConfigureAwait(false);
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

    /// <summary>
    /// A graceful stop ends at a transaction boundary: a transaction whose first rows are in Kafka already is decoded and
    /// handed over to its end, so its commit position can be confirmed. Stopping in the middle of it would leave its
    /// position unconfirmed while its first rows are acknowledged (and deleted), and the next session would replay the
    /// whole transaction and publish them again. The reader stops before the next transaction; the publisher hands over
    /// what was decoded up to there. Waits until the publisher has handed everything over, the session failed, or the
    /// shutdown time limit expired (or the stream broke).
    /// </summary>
    private async Task FinishTransactionAsync(Task reader, Task publisher)
    {
        lock (_boundary)
        {
            _finishing = true;
            if (!_readerInTransaction)
            {
                _decoded.Writer.TryComplete();
            }
        }

        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var abort = _abort.Token.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), aborted);
        if (await Task.WhenAny(publisher, reader, _failed.Task, aborted.Task).ConfigureAwait(false) == aborted.Task)
        {
            // Shutdown time limit: the rows not handed over yet, and a transaction cut short, are published again by the next relay.
            _aborted = true;
        }
    }

    /// <summary>
    /// Called by the reader before it handles each message: whether to stop here, at a transaction boundary, because
    /// the session is finishing (see <see cref="FinishTransactionAsync"/>).
    /// </summary>
    private bool StopsBefore(ReplicationMessage message)
    {
        lock (_boundary)
        {
            if (_readerInTransaction)
            {
                return false;
            }

            if (_finishing)
            {
                _decoded.Writer.TryComplete();
                return true;
            }

            if (message is BeginMessage)
            {
                _readerInTransaction = true;
            }

            return false;
        }
    }

    /// <summary>Called by the reader once it handled a transaction's commit: a finishing session decodes nothing more.</summary>
    private void TransactionDecoded()
    {
        lock (_boundary)
        {
            _readerInTransaction = false;
            if (_finishing)
            {
                _decoded.Writer.TryComplete();
            }
        }
    }

    /// <summary>Disposes the session's cancellation sources; call it after <see cref="RunAsync"/> completed.</summary>
    public void Dispose()
    {
        _readerStop.Dispose();
        _abort.Dispose();
        _publishStop.Dispose();
        _slots.Dispose();
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
        var now = _timeProvider.GetTimestamp();
        foreach (var id in _notYetDeleted.Keys)
        {
            deletes.Add(id);
        }

        try
        {
            if (deletes.Count > 0)
            {
                var missing = await _store.DeleteMessagesAsync(deletes, cancellationToken).ConfigureAwait(false);
                RememberNotYetDeleted(deletes, missing, now);
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

    /// <summary>
    /// A transaction is decoded as soon as its commit record is flushed, a moment before other sessions see it, so a
    /// row may be acknowledged before the delete can see it. Such rows are deleted again at the next flushes, for
    /// <see cref="DeleteRetryPeriod"/>; rows that stay missing were deleted before (a replay), and are forgotten.
    /// Their position is confirmed meanwhile: they are in Kafka, and a row left behind would only be published once
    /// more if the slot were ever recreated.
    /// </summary>
    private void RememberNotYetDeleted(List<Guid> attempted, List<Guid> missing, long now)
    {
        var stillMissing = missing.Count == 0 ? null : missing.ToHashSet();
        foreach (var id in attempted)
        {
            if (stillMissing is null || !stillMissing.Contains(id))
            {
                _notYetDeleted.Remove(id);
            }
        }

        foreach (var id in missing)
        {
            if (!_notYetDeleted.TryGetValue(id, out var since))
            {
                _notYetDeleted[id] = now;
            }
            else if (_timeProvider.GetElapsedTime(since, now) > DeleteRetryPeriod)
            {
                _notYetDeleted.Remove(id);
            }
        }
    }

    /// <summary>
    /// The stream is about to be cancelled, which may break the connection before the server read the last status
    /// update: wait until the slot shows it, so the next session does not repeat rows already confirmed.
    /// </summary>
    private async Task WaitUntilServerConfirmedAsync(CancellationToken cancellationToken)
    {
        var confirmed = _progress.Confirmed;
        while (confirmed > 0 && await _store.ReadConfirmedFlushAsync(cancellationToken).ConfigureAwait(false) < confirmed)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), _timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            var slot = new PgOutputReplicationSlot(_store.Names.SlotName);
            var options = new PgOutputReplicationOptions(_store.Names.PublicationName, PgOutputProtocolVersion.V1, binary: true);
            var token = _readerStop.Token;
            var writer = _decoded.Writer;

            // Each row carries its transaction's commit position: with its id, it tells a replay of this transaction
            // (after a restart of the stream) from a later insert of the same id (a replayed dead letter).
            ulong transaction = 0;
            uint xid = 0;
            await foreach (var message in _connection.StartReplication(slot, options, token).ConfigureAwait(false))
            {
                if (_draining || StopsBefore(message))
                {
                    // Ending: leave this message unhandled (the next session streams it again) but keep the stream
                    // open, so that the final position can still be confirmed.
                    await Task.Delay(Timeout.InfiniteTimeSpan, token).ConfigureAwait(false);
                }

                switch (message)
                {
                    case BeginMessage begin:
                        transaction = (ulong)begin.TransactionFinalLsn;
                        xid = begin.TransactionXid;
                        _progress.Begin();
                        break;
                    case RelationMessage relation:
                        _decoder.OnRelation(relation);
                        break;
                    case InsertMessage insert:
                        var decoded = await _decoder.DecodeAsync(insert, token).ConfigureAwait(false);
                        if (decoded is not null)
                        {
                            // Taken before it is counted: a reader waiting for bytes leaves the count alone.
                            var bytes = System.Text.Encoding.UTF8.GetByteCount(decoded.Payload);
                            await _budget.TakeAsync(bytes, token).ConfigureAwait(false);

                            // Counted before it is queued: the publisher acknowledges only what was counted.
                            _progress.RowDecoded();
                            var row = new CdcRow(decoded, transaction, bytes, xid);
                            if (!writer.TryWrite(row))
                            {
                                await writer.WriteAsync(row, token).ConfigureAwait(false);
                            }
                        }

                        break;
                    case CommitMessage commit:
                        _progress.Commit((ulong)commit.TransactionEndLsn);
                        TransactionDecoded();
                        break;
                }
            }

            throw new OutboxException("The server ended the replication stream.");
        }
        catch (Exception) when (_readerStop.IsCancellationRequested)
        {
            // Stopping (Npgsql reports a cancelled stream in several ways).
        }
        catch (ChannelClosedException) when (_draining)
        {
            // Ending while the queue was full: wait to be cancelled, the stream open for the final confirmation.
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, _readerStop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Hands batches to the producer, one after the other, while fewer than <see cref="CdcRelayOptions.MaxBatchesInFlight"/> await results.</summary>
    private async Task PublishAsync()
    {
        var reader = _decoded.Reader;
        List<CdcRow>? carryOver = null;
        try
        {
            while (!_draining && (carryOver is not null || await reader.WaitToReadAsync(_publishStop.Token).ConfigureAwait(false)) && !_draining)
            {
                // The slot is released by the settler once the batch's results are settled.
                await _slots.WaitAsync(_publishStop.Token).ConfigureAwait(false);
                if (_draining)
                {
                    break;
                }

                // Rows given back behind a refused row first, then everything decoded so far, up to a full batch: batches
                // grow while earlier ones are in flight.
                var batch = carryOver ?? new List<CdcRow>(Math.Min(_options.MaxBatchSize, Math.Max(reader.Count, 16)));
                carryOver = null;
                while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var row))
                {
                    batch.Add(row);
                }

                InFlightBatch entry;
                try
                {
                    entry = await HandOverAsync(batch, _abort.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_abort.IsCancellationRequested)
                {
                    // Shutdown time limit: what is in flight is published again by the next relay.
                    _aborted = true;
                    return;
                }

                _inFlight.Writer.TryWrite(entry);
                if (entry.Refused)
                {
                    // Nothing may overtake a row the producer refused: wait until its batch is settled (its key is then
                    // held, so later batches leave it out; the rows of other keys not attempted behind it come back).
                    await entry.Settled.Task.WaitAsync(_publishStop.Token).ConfigureAwait(false);
                    carryOver = entry.CarryOver;
                }
            }
        }
        catch (OperationCanceledException) when (_publishStop.IsCancellationRequested)
        {
            // Ending.
        }
        finally
        {
            _inFlight.Writer.TryComplete();
        }
    }

    /// <summary>Decides what to do with each row of a batch (send, hold, skip) and hands the rows to send to the producer.</summary>
    private async Task<InFlightBatch> HandOverAsync(List<CdcRow> batch, CancellationToken cancellationToken)
    {
        var startedAt = _timeProvider.GetTimestamp();
        var actions = new CdcRowAction[batch.Count];
        List<int>? ofHeldKeys = null;
        for (var i = 0; i < batch.Count; i++)
        {
            if (_held.Contains(batch[i].Message))
            {
                (ofHeldKeys ??= []).Add(i);
            }
        }

        var send = batch;
        if (ofHeldKeys is not null)
        {
            var states = await ReadHeldRowStatesAsync(ofHeldKeys.ConvertAll(i => batch[i]), cancellationToken).ConfigureAwait(false);
            HashSet<(string Type, string Id)>? flowing = null;
            for (var j = 0; j < ofHeldKeys.Count; j++)
            {
                var i = ofHeldKeys[j];
                var row = batch[i];
                if (flowing is not null && flowing.Contains(row.Key))
                {
                    continue;
                }

                var (parked, releasedAt, _) = states[j];
                if (parked && releasedAt is null)
                {
                    actions[i] = CdcRowAction.Hold;
                }
                else if (releasedAt is { } release && row.CommitLsn < release)
                {
                    actions[i] = CdcRowAction.Skip;
                }
                else
                {
                    // Committed after the key's release (or the release is forgotten): the key flows from here on.
                    _held.Remove(row.Key);
                    (flowing ??= []).Add(row.Key);
                    Log.KeyFlowsAgain(_logger, row.Key.Type, row.Key.Id);
                }
            }

            send = [];
            for (var i = 0; i < batch.Count; i++)
            {
                if (actions[i] == CdcRowAction.Send)
                {
                    send.Add(batch[i]);
                }
            }
        }

        var handOver = send.Count == 0
            ? new PublishHandOver(false, Task.FromResult(Array.Empty<PublishResult>()))
            : await HandOverUnacknowledgedAsync(send, send.ConvertAll(static r => r.Message), cancellationToken).ConfigureAwait(false);
        return new InFlightBatch(batch, actions, handOver.Results, handOver.Refused, startedAt);
    }

    /// <summary>
    /// Reads the parked-keys rows of held rows' keys. A transaction is decoded a moment before other sessions see it, so
    /// the copies a release inserted could be read while the release still looks undone (the key still held): while
    /// a key reads as held and a row's transaction is not visible yet, read again.
    /// </summary>
    private async Task<List<(bool Parked, ulong? ReleasedAt, bool Visible)>> ReadHeldRowStatesAsync(List<CdcRow> rows, CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        while (true)
        {
            var states = await _store.ReadRowStatesAsync(rows, cancellationToken).ConfigureAwait(false);
            if (!states.Exists(static s => s.Parked && s.ReleasedAt is null && !s.Visible))
            {
                return states;
            }

            if (_timeProvider.GetElapsedTime(started) > VisibilityWait)
            {
                throw new OutboxException($"A decoded transaction stayed invisible to other sessions for {VisibilityWait}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), _timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Settles the batches' results in the order they were handed over, so settled rows form a prefix of the stream.</summary>
    private async Task SettleAsync()
    {
        await foreach (var entry in _inFlight.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                PublishResult[] results;
                try
                {
                    results = await entry.Results.WaitAsync(_abort.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_abort.IsCancellationRequested)
                {
                    // Shutdown time limit: what is in flight is published again by the next relay.
                    _aborted = true;
                    return;
                }

                CdcBatchOutcome outcome;
                try
                {
                    outcome = await _acknowledger.SettleAsync(
                        entry, results, _held, (failure, token) => _parking.FailAsync(failure, _retryPolicy, token), _abort.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_abort.IsCancellationRequested)
                {
                    _aborted = true;
                    return;
                }
                catch (Exception ex)
                {
                    // Failed before the publisher may go on (Fail stops it first).
                    Fail(ex);
                    return;
                }

                _progress.Settle(outcome.Settled, outcome.Deletes);
                long bytes = 0;
                for (var i = 0; i < outcome.Settled; i++)
                {
                    bytes += entry.Rows[i].Bytes;
                }

                _budget.Give(bytes);
                SettlementReport.Settled(RelayKind.Cdc, outcome.SettledMessages, outcome.Settlement, outcome.Outcomes, _outboxOptions, _telemetry, _logger);
                _telemetry.BatchDuration(RelayKind.Cdc, _timeProvider.GetElapsedTime(entry.StartedAt));
                if (outcome.TransientError is { } error)
                {
                    // The broker or the network, not the rows: nothing is counted; the session ends and the relay
                    // streams again from the confirmed position after a backoff.
                    Fail(new CdcPublishFailedException($"Publishing row {entry.Rows[outcome.Settled].Message.Id} failed for a reason that is not its own (retried, not counted): {error}"));
                    return;
                }

                entry.CarryOver = outcome.CarryOver;
            }
            finally
            {
                entry.Settled.TrySetResult();
            }

            _slots.Release();
        }
    }

    /// <summary>
    /// Hands over the rows Kafka does not have yet; rows it acknowledged earlier in this process (replayed because the
    /// stream restarted inside their transaction) count as acknowledged without being sent again. A row is recognized
    /// by its id and its transaction's commit position: the same id inserted again by a later transaction (a released
    /// key's events, a replayed dead letter) is a new row and is sent.
    /// </summary>
    private async ValueTask<PublishHandOver> HandOverUnacknowledgedAsync(List<CdcRow> batch, List<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        List<OutboxRecord>? fresh = null;
        List<int>? positions = null;
        for (var i = 0; i < batch.Count; i++)
        {
            if (_acknowledger.WasAcknowledged(batch[i]))
            {
                if (fresh is null)
                {
                    fresh = messages.GetRange(0, i);
                    positions = Enumerable.Range(0, i).ToList();
                }
            }
            else if (fresh is not null)
            {
                fresh.Add(messages[i]);
                positions!.Add(i);
            }
        }

        if (fresh is null)
        {
            return await _publisher.HandOverAsync(messages, cancellationToken).ConfigureAwait(false);
        }

        var results = new PublishResult[batch.Count];
        Array.Fill(results, PublishResult.Acknowledged);
        if (fresh.Count == 0)
        {
            return new PublishHandOver(false, Task.FromResult(results));
        }

        var handOver = await _publisher.HandOverAsync(fresh, cancellationToken).ConfigureAwait(false);
        return new PublishHandOver(handOver.Refused, MapAsync(handOver.Results, results, positions!));

        static async Task<PublishResult[]> MapAsync(Task<PublishResult[]> sent, PublishResult[] results, List<int> positions)
        {
            var fresh = await sent.ConfigureAwait(false);
            for (var j = 0; j < fresh.Length; j++)
            {
                results[positions[j]] = fresh[j];
            }

            return results;
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
                // Not cancelled when the loop is told to stop: a flush cut short blocks every later confirmation of the
                // session (see FlushOnceAsync), the final one included, so its rows would be published again.
                await FlushOnceAsync(_abort.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }

            try
            {
                await MaintainParkingAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Housekeeping: the stream goes on; a due key is released at a later check.
                Log.ParkingMaintenanceFailed(_logger, ex);
            }
        }
    }

    /// <summary>
    /// Releases the keys whose retry is due (only while this session holds keys), so that their rows stream again, and
    /// now and then forgets the releases the confirmed position has passed (no row before them can stream again).
    /// </summary>
    internal async Task MaintainParkingAsync(CancellationToken cancellationToken)
    {
        if (_held.Count > 0)
        {
            foreach (var (type, id) in await _store.ReadDueRetriesAsync(DueRetriesPerCheck, cancellationToken).ConfigureAwait(false))
            {
                if (await _parking.ReleaseAsync(type, id, operatorRelease: false, discard: false, cancellationToken).ConfigureAwait(false) is { } events)
                {
                    Log.RetryReleased(_logger, type, id, events);
                }
            }
        }

        var now = _timeProvider.GetTimestamp();
        if (_timeProvider.GetElapsedTime(_lastForgetReleased, now) >= ForgetReleasedPeriod && _progress.Confirmed > 0)
        {
            _lastForgetReleased = now;
            await _store.ForgetReleasedAsync(_parking.Sql.ForgetReleased, _progress.Confirmed, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Fail(Exception exception)
    {
        // Stops the publisher before anything else happens: no later batch may be handed over after a failed one.
        _draining = true;
        Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(exception), null);
        _ending.TrySetResult();
        _failed.TrySetResult();
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
