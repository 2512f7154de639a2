using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Outbox.Inbox;

/// <summary>
/// The inbox pipeline of one consumer group, independent of the transport. Given records of one partition in order,
/// it handles each exactly once in effect: per transaction (one record, or a batch) it inserts the inbox rows
/// (skipping ids already handled), stores the partition's next offset, runs the handlers and commits, all on the
/// consumer's <see cref="DbContext"/>. Handler failures are retried with backoff and dead-lettered after
/// <see cref="InboxSettings.MaxAttempts"/>; failures outside the handler (database down) are retried without limit.
/// </summary>
internal sealed class InboxProcessor
{
    private readonly IServiceScopeFactory _scopes;
    private readonly IInboxStore _store;
    private readonly IDeadLetterPublisher _deadLetters;
    private readonly InboxSettings _settings;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public InboxProcessor(
        IServiceScopeFactory scopes,
        IInboxStore store,
        IDeadLetterPublisher deadLetters,
        InboxSettings settings,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _scopes = scopes;
        _store = store;
        _deadLetters = deadLetters;
        _settings = settings;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public InboxSettings Settings => _settings;

    /// <summary>
    /// Processes records of one partition, in order. Consecutive records that allow batching share a transaction.
    /// </summary>
    /// <param name="items">Records of one partition in offset order.</param>
    /// <param name="completed">Called with the next offset after each record or batch is done (handled, skipped
    /// or dead-lettered, and committed).</param>
    /// <param name="stopping">Soft stop: no new transaction starts and backoff waits end; the running one finishes.</param>
    /// <param name="aborting">Hard stop: cancels the running handler and transaction, which rolls back.</param>
    /// <returns><see langword="true"/> when every record is done; <see langword="false"/> when stopped before.</returns>
    public async Task<bool> ProcessAsync(IReadOnlyList<InboxItem> items, Action<long> completed, CancellationToken stopping, CancellationToken aborting)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(completed);
        var i = 0;
        while (i < items.Count)
        {
            if (stopping.IsCancellationRequested || aborting.IsCancellationRequested)
            {
                return false;
            }

            var item = items[i];
            if (item.Kind == InboxRecordKind.DeadLetter)
            {
                if (!await DeadLetterAsync(item, item.DeadLetter!, stopping, aborting).ConfigureAwait(false))
                {
                    return false;
                }

                completed(item.Record.Offset + 1);
                i++;
                continue;
            }

            var end = i + 1;
            if (item.AllowsBatching)
            {
                while (end < items.Count && items[end].AllowsBatching)
                {
                    end++;
                }
            }

            var segment = new InboxItem[end - i];
            for (var k = 0; k < segment.Length; k++)
            {
                segment[k] = items[i + k];
            }

            if (!await RunSegmentAsync(segment, completed, stopping, aborting).ConfigureAwait(false))
            {
                return false;
            }

            i = end;
        }

        return true;
    }

    private async Task<bool> RunSegmentAsync(InboxItem[] segment, Action<long> completed, CancellationToken stopping, CancellationToken aborting)
    {
        var last = segment[^1].Record;
        if (Array.TrueForAll(segment, s => s.Kind == InboxRecordKind.Skip))
        {
            // No handler: nothing to record in the database; only the transport's offset moves on.
            completed(last.Offset + 1);
            return true;
        }

        var attempt = 1;
        var infrastructureFailures = 0;
        while (true)
        {
            TimeSpan delay;
            try
            {
                var failure = await CommitSegmentAsync(segment, attempt, aborting).ConfigureAwait(false);
                if (failure is null)
                {
                    completed(last.Offset + 1);
                    return true;
                }

                if (IsTransient(failure.Exception))
                {
                    // The database went away under the handler: not the record's fault, so not an attempt.
                    infrastructureFailures++;
                    delay = Backoff(infrastructureFailures);
                    Log.TransactionFailed(_logger, failure.Exception, _settings.ConsumerGroup, last.Topic, last.Partition, segment[0].Record.Offset, delay);
                }
                else if (segment.Length > 1)
                {
                    // One record of the batch failed and the whole transaction rolled back: find it by handling them alone.
                    Log.BatchFailed(_logger, failure.Exception, segment.Length, last.Topic, last.Partition, segment[0].Record.Offset, failure.HandlerName);
                    foreach (var item in segment)
                    {
                        if (!await RunSegmentAsync([item], completed, stopping, aborting).ConfigureAwait(false))
                        {
                            return false;
                        }
                    }

                    return true;
                }
                else if (attempt >= _settings.MaxAttempts)
                {
                    var deadLetter = new DeadLetter(
                        DeadLetterReason.HandlerFailed,
                        failure.Exception.GetType().FullName ?? failure.Exception.GetType().Name,
                        $"{failure.HandlerName}: {failure.Exception.Message}",
                        attempt);
                    if (!await DeadLetterAsync(segment[0], deadLetter, stopping, aborting).ConfigureAwait(false))
                    {
                        return false;
                    }

                    completed(last.Offset + 1);
                    return true;
                }
                else
                {
                    delay = Backoff(attempt);
                    Log.HandlerFailed(_logger, failure.Exception, failure.HandlerName, last.Topic, last.Partition, last.Offset, last.Id, _settings.ConsumerGroup, attempt, _settings.MaxAttempts, delay);
                    attempt++;
                }
            }
            catch (Exception ex) when (!aborting.IsCancellationRequested)
            {
                infrastructureFailures++;
                delay = Backoff(infrastructureFailures);
                Log.TransactionFailed(_logger, ex, _settings.ConsumerGroup, last.Topic, last.Partition, segment[0].Record.Offset, delay);
            }
            catch (Exception) when (aborting.IsCancellationRequested)
            {
                return false;
            }

            if (!await WaitAsync(delay, stopping, aborting).ConfigureAwait(false))
            {
                return false;
            }
        }
    }

    /// <summary>One transaction: inbox rows, offset, handlers, save, commit.</summary>
    /// <returns><see langword="null"/> when committed; the handler failure when a handler (or saving its changes) threw.</returns>
    private async Task<HandlerFailure?> CommitSegmentAsync(InboxItem[] segment, int attempt, CancellationToken cancellationToken)
    {
        var entries = new List<InboxEntry>(segment.Length);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in segment)
        {
            if (item.Kind == InboxRecordKind.Handle && ids.Add(item.Record.Id!))
            {
                entries.Add(new InboxEntry(item.Record.Id!, item.Record.Offset));
            }
        }

        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var db = (DbContext)scope.ServiceProvider.GetRequiredService(_settings.DbContextType);
            var strategy = db.Database.CreateExecutionStrategy();
            if (!strategy.RetriesOnFailure)
            {
                return await CommitSegmentAsync(scope.ServiceProvider, db, segment, entries, attempt, cancellationToken).ConfigureAwait(false);
            }

            // A retrying execution strategy (EnableRetryOnFailure) refuses user transactions outside of it: run the
            // whole transaction inside it, with a fresh scope (and change tracker) for each of its retries.
            var first = true;
            return await strategy.ExecuteAsync(
                async ct =>
                {
                    if (first)
                    {
                        first = false;
                        return await CommitSegmentAsync(scope.ServiceProvider, db, segment, entries, attempt, ct).ConfigureAwait(false);
                    }

                    var retryScope = _scopes.CreateAsyncScope();
                    await using (retryScope.ConfigureAwait(false))
                    {
                        var retryDb = (DbContext)retryScope.ServiceProvider.GetRequiredService(_settings.DbContextType);
                        return await CommitSegmentAsync(retryScope.ServiceProvider, retryDb, segment, entries, attempt, ct).ConfigureAwait(false);
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<HandlerFailure?> CommitSegmentAsync(
        IServiceProvider services, DbContext db, InboxItem[] segment, List<InboxEntry> entries, int attempt, CancellationToken cancellationToken)
    {
        var last = segment[^1].Record;
        var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            var position = new InboxPosition(_settings.ConsumerGroup, last.Topic, last.Partition, last.Offset + 1);
            var fresh = await _store.AddAsync(db, position, entries, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);

            string handlerName = "";
            var duplicates = 0;
            try
            {
                var handled = new HashSet<string>(StringComparer.Ordinal);
                foreach (var item in segment)
                {
                    if (item.Kind != InboxRecordKind.Handle)
                    {
                        continue;
                    }

                    var id = item.Record.Id!;
                    if (!fresh.Contains(id) || !handled.Add(id))
                    {
                        Log.Duplicate(_logger, id, item.Record.Topic, item.Record.Partition, item.Record.Offset, _settings.ConsumerGroup);
                        duplicates++;
                        continue;
                    }

                    var context = item.CreateContext(_settings.ConsumerGroup, attempt);
                    using var activity = InboxTelemetry.StartProcess(item.Record, _settings.ConsumerGroup, attempt);
                    var startedAt = _timeProvider.GetTimestamp();
                    try
                    {
                        foreach (var handler in item.Handlers)
                        {
                            handlerName = handler.HandlerType.Name;
                            await handler.Invoke(services, item.Event!, context, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex)
                    {
                        InboxTelemetry.HandlerFailed(activity, ex);
                        throw;
                    }
                    finally
                    {
                        InboxTelemetry.HandlerDone(item.Record, _settings.ConsumerGroup, _timeProvider.GetElapsedTime(startedAt));
                    }
                }

                // The handlers' changes and the outbox rows they added (the outbox interceptor takes part here).
                handlerName = db.GetType().Name + ".SaveChanges";
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Disposing the transaction rolls it back.
                return new HandlerFailure(handlerName, ex);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            InboxTelemetry.Committed(segment, fresh, duplicates, _settings.ConsumerGroup);
            return null;
        }
    }

    private async Task<bool> DeadLetterAsync(InboxItem item, DeadLetter deadLetter, CancellationToken stopping, CancellationToken aborting)
    {
        var record = item.Record;
        var failures = 0;
        string topic;
        while (true)
        {
            try
            {
                topic = await _deadLetters.PublishAsync(record, _settings.ConsumerGroup, deadLetter, aborting).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (!aborting.IsCancellationRequested)
            {
                failures++;
                var delay = Backoff(failures);
                Log.DeadLetterFailed(_logger, ex, record.Topic, record.Partition, record.Offset, delay);
                if (!await WaitAsync(delay, stopping, aborting).ConfigureAwait(false))
                {
                    return false;
                }
            }
            catch (Exception) when (aborting.IsCancellationRequested)
            {
                return false;
            }
        }

        Log.DeadLettered(_logger, record.Topic, record.Partition, record.Offset, record.Id, _settings.ConsumerGroup, topic, deadLetter.Reason, deadLetter.ErrorMessage);
        InboxTelemetry.DeadLettered(record, _settings.ConsumerGroup, deadLetter.Reason);

        // Store the position so that a restart does not dead-letter the record again. No inbox row: the event was not
        // handled, and replaying it from the dead-letter topic after a fix must not be skipped as a duplicate.
        failures = 0;
        while (true)
        {
            try
            {
                var scope = _scopes.CreateAsyncScope();
                await using (scope.ConfigureAwait(false))
                {
                    var db = (DbContext)scope.ServiceProvider.GetRequiredService(_settings.DbContextType);
                    var position = new InboxPosition(_settings.ConsumerGroup, record.Topic, record.Partition, record.Offset + 1);
                    await _store.SaveOffsetAsync(db, position, _timeProvider.GetUtcNow(), aborting).ConfigureAwait(false);
                    return true;
                }
            }
            catch (Exception ex) when (!aborting.IsCancellationRequested)
            {
                failures++;
                var delay = Backoff(failures);
                Log.TransactionFailed(_logger, ex, _settings.ConsumerGroup, record.Topic, record.Partition, record.Offset, delay);
                if (!await WaitAsync(delay, stopping, aborting).ConfigureAwait(false))
                {
                    // The dead letter is out; the offset is not stored: a later owner sends it again (at least once).
                    return false;
                }
            }
            catch (Exception) when (aborting.IsCancellationRequested)
            {
                return false;
            }
        }
    }

    private TimeSpan Backoff(int failures) => RetryBackoff.Delay(failures, _settings.InitialRetryDelay, _settings.MaxRetryDelay);

    /// <returns><see langword="false"/> when a stop ended the wait.</returns>
    private async Task<bool> WaitAsync(TimeSpan delay, CancellationToken stopping, CancellationToken aborting)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, aborting);
        try
        {
            await Task.Delay(delay, _timeProvider, linked.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A connection failure, a failover, too many connections: errors that say nothing about the record.</summary>
    internal static bool IsTransient(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException { IsTransient: true })
            {
                return true;
            }
        }

        return false;
    }

    private sealed record HandlerFailure(string HandlerName, Exception Exception);
}
