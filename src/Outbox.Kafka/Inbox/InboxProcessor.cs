using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>
/// The inbox pipeline of one consumer group, independent of the transport. Given records of one partition in order,
/// it handles each exactly once in effect: per transaction (one record, or a batch) it inserts the inbox rows
/// (skipping ids already handled), stores the partition's next offset, runs the handlers and commits, all on the
/// consumer's <see cref="DbContext"/>. Every error of that transaction is classified (<see cref="Classify"/>):
/// transient ones are retried with backoff without counting; a record the database refuses is parked at once; any
/// other error counts as an attempt and the record is parked after <see cref="InboxSettings.MaxAttempts"/>. A parked
/// record goes to the dead-letter topic and to the parked table, and parks its key: later records of that key in the
/// partition are held in the parked table, in order, until an operator replays or discards it; other keys go on.
/// The concurrency slot (a database connection) is held only while a transaction runs, never during a backoff.
/// </summary>
internal sealed class InboxProcessor
{
    private readonly IServiceScopeFactory _scopes;
    private readonly IInboxStore _store;
    private readonly IDeadLetterPublisher _deadLetters;
    private readonly InboxSettings _settings;
    private readonly TimeProvider _timeProvider;
    private readonly InboxTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim? _concurrency;
    private readonly InboxTenantRouting? _routing;

    public InboxProcessor(
        IServiceScopeFactory scopes,
        IInboxStore store,
        IDeadLetterPublisher deadLetters,
        InboxSettings settings,
        TimeProvider timeProvider,
        InboxTelemetry telemetry,
        ILogger logger,
        SemaphoreSlim? concurrency = null,
        InboxTenantRouting? routing = null)
    {
        _routing = routing is { Enabled: true } ? routing : null;
        _scopes = scopes;
        _store = store;
        _deadLetters = deadLetters;
        _settings = settings;
        _timeProvider = timeProvider;
        _telemetry = telemetry;
        _logger = logger;
        _concurrency = concurrency;
    }

    public InboxSettings Settings => _settings;

    /// <summary>Gets a value indicating whether records are routed to their tenants' databases.</summary>
    public bool RoutesByTenant => _routing is not null;

    /// <summary>
    /// With tenant routing, before a batch of one partition: opens each tenant the partition's worker meets for the first
    /// time since its assignment (reads the partition's stored offset and parked keys from that tenant's database,
    /// retrying until it succeeds or the worker stops), then returns the items with each record the tenant already
    /// handled (below the tenant's stored offset) turned into a skip, and each record of a tenant the application does
    /// not know into a dead letter of the consumer's own database.
    /// </summary>
    /// <param name="items">Records of one partition in offset order.</param>
    /// <param name="opened">The tenants opened so far by the worker and their stored next offsets ("" is the consumer's own database).</param>
    /// <param name="parking">The partition's parked keys; each opened tenant's are added.</param>
    /// <param name="stopping">Soft stop.</param>
    /// <param name="aborting">Hard stop.</param>
    /// <returns>The items to process, or <see langword="null"/> when stopped.</returns>
    public async Task<IReadOnlyList<InboxItem>?> PrepareTenantsAsync(
        IReadOnlyList<InboxItem> items, Dictionary<string, long> opened, PartitionParking parking, CancellationToken stopping, CancellationToken aborting)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(opened);
        ArgumentNullException.ThrowIfNull(parking);
        if (_routing is null)
        {
            return items;
        }

        var result = new List<InboxItem>(items.Count);
        foreach (var item in items)
        {
            var tenant = item.Tenant;
            if (!opened.TryGetValue(tenant ?? "", out var storedNext))
            {
                var failures = 0;
                while (true)
                {
                    if (stopping.IsCancellationRequested || aborting.IsCancellationRequested)
                    {
                        return null;
                    }

                    try
                    {
                        storedNext = await OpenTenantAsync(tenant, item.Record.Topic, item.Record.Partition, opened, parking, aborting).ConfigureAwait(false);
                        break;
                    }
                    catch (UnknownTenantException ex)
                    {
                        storedNext = long.MinValue;
                        Log.UnknownTenant(_logger, ex.Tenant, item.Record.Topic, item.Record.Partition, item.Record.Offset, _settings.ConsumerGroup);
                        break;
                    }
                    catch (Exception ex) when (!aborting.IsCancellationRequested)
                    {
                        failures++;
                        var delay = Backoff(failures);
                        Log.TenantOpenFailed(_logger, ex, item.Record.Topic, item.Record.Partition, _settings.ConsumerGroup, tenant, delay);
                        if (!await WaitAsync(delay, stopping, aborting).ConfigureAwait(false))
                        {
                            return null;
                        }
                    }
                    catch (Exception) when (aborting.IsCancellationRequested)
                    {
                        return null;
                    }
                }
            }

            if (storedNext == long.MinValue)
            {
                // Not remembered: the application may know the tenant by the next record.
                result.Add(item.As(InboxRecordKind.DeadLetter, UnknownTenant(item.Tenant!)));
            }
            else if (item.Record.Offset < storedNext)
            {
                // Finished in the tenant's database before (by this group, before a restart or rebalance).
                result.Add(item.As(InboxRecordKind.Skip, tenant: tenant));
            }
            else
            {
                result.Add(item);
            }
        }

        return result;
    }

    /// <summary>How many tenants not met yet a partition's worker opens per parked check (<see cref="OpenListedTenantsAsync"/>).</summary>
    internal const int TenantsOpenedPerCheck = 8;

    /// <summary>
    /// With tenant routing, at a parked check of a partition: opens up to <see cref="TenantsOpenedPerCheck"/> of the
    /// listed tenants (<see cref="InboxTenantRouting.ListTenants"/>) the worker has not met yet, so that the parked rows
    /// of a tenant with no new record in the partition are found too (their replays run, their keys hold) within a few
    /// checks. <paramref name="pending"/> holds the tenants still to open; it is filled from the list when empty.
    /// A tenant that fails to open goes back to the end of the queue.
    /// </summary>
    /// <returns><see langword="true"/> while listed tenants remain to be opened.</returns>
    public async Task<bool> OpenListedTenantsAsync(
        string topic, int partition, Dictionary<string, long> opened, PartitionParking parking, Queue<string> pending, bool refill, CancellationToken aborting)
    {
        ArgumentNullException.ThrowIfNull(opened);
        ArgumentNullException.ThrowIfNull(parking);
        ArgumentNullException.ThrowIfNull(pending);
        if (_routing is null)
        {
            return false;
        }

        if (pending.Count == 0 && refill)
        {
            try
            {
                var scope = _scopes.CreateAsyncScope();
                await using (scope.ConfigureAwait(false))
                {
                    foreach (var tenant in await _routing.ListTenants!(scope.ServiceProvider, aborting).ConfigureAwait(false))
                    {
                        if (!string.IsNullOrEmpty(tenant) && !opened.ContainsKey(tenant))
                        {
                            pending.Enqueue(tenant);
                        }
                    }
                }
            }
            catch (Exception ex) when (!aborting.IsCancellationRequested)
            {
                // Asked again at the next check.
                Log.ParkedCheckFailed(_logger, ex, topic, partition, _settings.ConsumerGroup);
                return true;
            }
        }

        for (var n = 0; n < TenantsOpenedPerCheck && pending.TryDequeue(out var tenant); n++)
        {
            if (opened.ContainsKey(tenant))
            {
                continue;
            }

            try
            {
                await OpenTenantAsync(tenant, topic, partition, opened, parking, aborting).ConfigureAwait(false);
            }
            catch (UnknownTenantException)
            {
                // Listed but not known (yet): met again at the next round of the list.
            }
            catch (Exception ex) when (!aborting.IsCancellationRequested)
            {
                Log.TenantOpenFailed(_logger, ex, topic, partition, _settings.ConsumerGroup, tenant, TimeSpan.Zero);
                pending.Enqueue(tenant);
                break;
            }
        }

        return pending.Count > 0;
    }

    /// <summary>Reads the partition's stored next offset and parked keys from the tenant's database and remembers both.</summary>
    /// <returns>The stored next offset, or -1 when the tenant's database has none.</returns>
    /// <exception cref="UnknownTenantException">The application does not know the tenant.</exception>
    private async Task<long> OpenTenantAsync(
        string? tenant, string topic, int partition, Dictionary<string, long> opened, PartitionParking parking, CancellationToken aborting)
    {
        var (offsets, keys) = await WithDbAsync(
            tenant,
            (db, _) => Task.FromResult((
                _store.ReadOffsets(db, _settings.ConsumerGroup, [topic]),
                _store.ReadParkedKeys(db, _settings.ConsumerGroup, topic, partition))),
            aborting).ConfigureAwait(false);
        var storedNext = offsets.TryGetValue((topic, partition), out var next) ? next : -1;
        opened[tenant ?? ""] = storedNext;
        parking.Reset(tenant, keys);
        return storedNext;
    }

    private static DeadLetter UnknownTenant(string tenant) =>
        new(DeadLetterReason.UnknownTenant, "UnknownTenant", $"The record names tenant '{tenant}' (routing header), which the application does not know (InboxTenantRouting.UseTenant returned false).", 0);

    /// <summary>Processes records of one partition without parked keys (see the overload with <see cref="PartitionParking"/>).</summary>
    public Task<bool> ProcessAsync(IReadOnlyList<InboxItem> items, Action<long> completed, CancellationToken stopping, CancellationToken aborting) =>
        ProcessAsync(items, new PartitionParking([]), completed, stopping, aborting);

    /// <summary>
    /// Processes records of one partition, in order. Consecutive records that allow batching share a transaction.
    /// Records of a parked key are held in the parked table.
    /// </summary>
    /// <param name="items">Records of one partition in offset order.</param>
    /// <param name="parking">The partition's parked keys; records that fail for good add theirs.</param>
    /// <param name="completed">Called with the next offset after each record or batch is done (handled, skipped,
    /// dead-lettered, parked or held, and committed).</param>
    /// <param name="stopping">Soft stop: no new transaction starts and backoff waits end; the running one finishes.</param>
    /// <param name="aborting">Hard stop: cancels the running handler and transaction, which rolls back.</param>
    /// <returns><see langword="true"/> when every record is done; <see langword="false"/> when stopped before.</returns>
    public async Task<bool> ProcessAsync(IReadOnlyList<InboxItem> items, PartitionParking parking, Action<long> completed, CancellationToken stopping, CancellationToken aborting)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(parking);
        ArgumentNullException.ThrowIfNull(completed);
        var i = 0;
        while (i < items.Count)
        {
            if (stopping.IsCancellationRequested || aborting.IsCancellationRequested)
            {
                return false;
            }

            var item = items[i];
            if (IsHeld(item, parking))
            {
                if (!await HoldAsync(item, parking, stopping, aborting).ConfigureAwait(false))
                {
                    return false;
                }

                completed(item.Record.Offset + 1);
                i++;
                continue;
            }

            if (item.Kind == InboxRecordKind.DeadLetter)
            {
                if (!await DeadLetterUnreadableAsync(item, item.DeadLetter!, parking, stopping, aborting).ConfigureAwait(false))
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
                while (end < items.Count && items[end].AllowsBatching && !IsHeld(items[end], parking) && items[end].Tenant == item.Tenant)
                {
                    end++;
                }
            }

            var segment = new InboxItem[end - i];
            for (var k = 0; k < segment.Length; k++)
            {
                segment[k] = items[i + k];
            }

            if (!await RunSegmentAsync(segment, parking, completed, stopping, aborting).ConfigureAwait(false))
            {
                return false;
            }

            i = end;
        }

        return true;
    }

    /// <summary>
    /// Between batches, on the partition's worker: replays the rows an operator asked for (in offset order, each in
    /// its own inbox transaction, releasing a key once all of its rows are done), then re-reads which keys are parked
    /// (a discard may have released one).
    /// </summary>
    /// <returns><see langword="false"/> when stopped before the end.</returns>
    public async Task<bool> CheckParkedAsync(
        string topic, int partition, PartitionParking parking, Func<InboxRecord, InboxItem> read, CancellationToken stopping, CancellationToken aborting)
    {
        ArgumentNullException.ThrowIfNull(parking);
        ArgumentNullException.ThrowIfNull(read);
        foreach (var tenant in _routing is null ? [null] : parking.TenantsWithRows)
        {
            if (!await CheckParkedAsync(tenant, topic, partition, parking, read, stopping, aborting).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    private async Task<bool> CheckParkedAsync(
        string? tenant, string topic, int partition, PartitionParking parking, Func<InboxRecord, InboxItem> read, CancellationToken stopping, CancellationToken aborting)
    {
        IReadOnlyList<ParkedRecord> rows;
        try
        {
            rows = await WithDbAsync(tenant, (db, ct) => _store.ReadReplayRequestsAsync(db, _settings.ConsumerGroup, topic, partition, ct), aborting).ConfigureAwait(false);
        }
        catch (Exception ex) when (!aborting.IsCancellationRequested)
        {
            Log.ParkedCheckFailed(_logger, ex, topic, partition, _settings.ConsumerGroup);
            return true;
        }

        if (rows.Count > 0)
        {
            var stoppedKeys = new HashSet<string>(StringComparer.Ordinal);
            var replayed = 0;
            foreach (var row in rows)
            {
                var key = row.Record.Key is { } k ? Convert.ToBase64String(k) : null;
                if (key is not null && stoppedKeys.Contains(key))
                {
                    continue;
                }

                if (stopping.IsCancellationRequested || aborting.IsCancellationRequested)
                {
                    return false;
                }

                var replayItem = read(row.Record);
                if (replayItem.Tenant != tenant)
                {
                    // Stored in this tenant's database: it stays with it even if its header names another.
                    replayItem = replayItem.As(replayItem.Kind, replayItem.DeadLetter, tenant);
                }

                var outcome = await ReplayOneAsync(row, replayItem, parking, stopping, aborting).ConfigureAwait(false);
                if (outcome is null)
                {
                    return false;
                }

                if (outcome == false && key is not null)
                {
                    stoppedKeys.Add(key);
                }

                replayed++;
            }

            Log.Replayed(_logger, replayed, topic, partition, _settings.ConsumerGroup);
        }

        try
        {
            var keys = await WithDbAsync(tenant, (db, _) => Task.FromResult(_store.ReadParkedKeys(db, _settings.ConsumerGroup, topic, partition)), aborting).ConfigureAwait(false);
            parking.Reset(tenant, keys);
        }
        catch (Exception ex) when (!aborting.IsCancellationRequested)
        {
            Log.ParkedCheckFailed(_logger, ex, topic, partition, _settings.ConsumerGroup);
        }

        return true;
    }

    /// <summary>Replays one parked row.</summary>
    /// <returns><see langword="true"/> when it left the parked table; <see langword="false"/> when it was parked again
    /// (its key stops replaying); <see langword="null"/> when stopped.</returns>
    private async Task<bool?> ReplayOneAsync(ParkedRecord row, InboxItem item, PartitionParking parking, CancellationToken stopping, CancellationToken aborting)
    {
        var record = row.Record;
        if (item.Kind == InboxRecordKind.DeadLetter)
        {
            var (topic, error) = await TryDeadLetterAsync(record, item.DeadLetter!, aborting).ConfigureAwait(false);
            if (aborting.IsCancellationRequested)
            {
                return null;
            }

            if (topic is null)
            {
                // Still refused: it stays a dead letter in the table; its key goes on, as for any unreadable record.
                var kept = row with { State = ParkedState.DeadLetter, Reason = item.DeadLetter!.Reason, ErrorType = item.DeadLetter.ErrorType, Error = RefusedMessage(item.DeadLetter.ErrorMessage, error!) };
                return await RetryDbAsync(record, item.Tenant, (db, ct) => _store.ReparkAsync(db, _settings.ConsumerGroup, kept, false, _timeProvider.GetUtcNow(), ct), stopping, aborting).ConfigureAwait(false)
                    ? true
                    : null;
            }

            Log.DeadLettered(_logger, record.Topic, record.Partition, record.Offset, record.Id, _settings.ConsumerGroup, topic, item.DeadLetter!.Reason, item.DeadLetter.ErrorMessage);
            _telemetry.DeadLettered(record, _settings.ConsumerGroup, item.DeadLetter.Reason);
            return await RemoveParkedAsync(record, item.Tenant, stopping, aborting).ConfigureAwait(false) ? true : null;
        }

        if (item.Kind == InboxRecordKind.Skip)
        {
            return await RemoveParkedAsync(record, item.Tenant, stopping, aborting).ConfigureAwait(false) ? true : null;
        }

        // Attempts start again: the operator replays because something changed.
        var attempt = 1;
        var transient = 0;
        while (true)
        {
            var failure = await TryCommitAsync([item], attempt, record.Offset, aborting).ConfigureAwait(false);
            if (aborting.IsCancellationRequested)
            {
                return null;
            }

            if (failure is null)
            {
                _telemetry.RecordReplayed(record, _settings.ConsumerGroup);
                return true;
            }

            TimeSpan delay;
            var kind = Classify(failure.Exception);
            if (kind == InboxFailureKind.Transient)
            {
                transient++;
                delay = Backoff(transient);
                Log.TransactionFailed(_logger, failure.Exception, _settings.ConsumerGroup, record.Topic, record.Partition, record.Offset, delay);
                _telemetry.TransientFailure(record, _settings.ConsumerGroup);
            }
            else if (kind == InboxFailureKind.Permanent || attempt >= _settings.MaxAttempts)
            {
                var reason = kind == InboxFailureKind.Permanent ? ParkReason.Rejected : DeadLetterReason.HandlerFailed;
                var again = row with
                {
                    State = ParkedState.Parked,
                    Reason = reason,
                    ErrorType = failure.Exception.GetType().FullName ?? failure.Exception.GetType().Name,
                    Error = $"{failure.HandlerName}: {failure.Exception.Message}",
                    Attempts = attempt,
                };
                if (!await RetryDbAsync(record, item.Tenant, (db, ct) => _store.ReparkAsync(db, _settings.ConsumerGroup, again, true, _timeProvider.GetUtcNow(), ct), stopping, aborting).ConfigureAwait(false))
                {
                    return null;
                }

                Log.Parked(_logger, record.Topic, record.Partition, record.Offset, record.Id, _settings.ConsumerGroup, reason, attempt, again.Error);
                parking.Park(item.Tenant, record.Key, _timeProvider.GetUtcNow());
                return false;
            }
            else
            {
                delay = Backoff(attempt);
                Log.HandlerFailed(_logger, failure.Exception, failure.HandlerName, record.Topic, record.Partition, record.Offset, record.Id, _settings.ConsumerGroup, attempt, _settings.MaxAttempts, delay);
                attempt++;
            }

            if (!await WaitAsync(delay, stopping, aborting).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    private static bool IsHeld(InboxItem item, PartitionParking parking) =>
        item.Kind != InboxRecordKind.Skip && parking.IsParked(item.Tenant, item.Record.Key);

    private async Task<bool> RunSegmentAsync(InboxItem[] segment, PartitionParking parking, Action<long> completed, CancellationToken stopping, CancellationToken aborting)
    {
        var last = segment[^1].Record;
        if (Array.TrueForAll(segment, s => s.Kind == InboxRecordKind.Skip))
        {
            // No handler: nothing to record in the database; only the transport's offset moves on.
            completed(last.Offset + 1);
            return true;
        }

        var attempt = 1;
        var transientFailures = 0;
        while (true)
        {
            var failure = await TryCommitAsync(segment, attempt, null, aborting).ConfigureAwait(false);
            if (aborting.IsCancellationRequested)
            {
                return false;
            }

            if (failure is null)
            {
                completed(last.Offset + 1);
                return true;
            }

            if (failure.Exception is UnknownTenantException unknown)
            {
                // The tenant went away after the worker opened it: its records go to the dead-letter topic.
                Log.UnknownTenant(_logger, unknown.Tenant, last.Topic, last.Partition, segment[0].Record.Offset, _settings.ConsumerGroup);
                foreach (var item in segment)
                {
                    if (item.Kind != InboxRecordKind.Skip
                        && !await DeadLetterUnreadableAsync(item, UnknownTenant(unknown.Tenant), parking, stopping, aborting, ownDatabase: true).ConfigureAwait(false))
                    {
                        return false;
                    }

                    completed(item.Record.Offset + 1);
                }

                return true;
            }

            TimeSpan delay;
            var kind = Classify(failure.Exception);
            if (kind == InboxFailureKind.Transient)
            {
                // Not the record's fault (the database went away, a serialization failure): not an attempt.
                transientFailures++;
                delay = Backoff(transientFailures);
                Log.TransactionFailed(_logger, failure.Exception, _settings.ConsumerGroup, last.Topic, last.Partition, segment[0].Record.Offset, delay);
                _telemetry.TransientFailure(segment[0].Record, _settings.ConsumerGroup);
            }
            else if (segment.Length > 1)
            {
                // One record of the batch failed and the whole transaction rolled back: find it by handling them alone.
                Log.BatchFailed(_logger, failure.Exception, segment.Length, last.Topic, last.Partition, segment[0].Record.Offset, failure.HandlerName);
                foreach (var item in segment)
                {
                    if (!IsHeld(item, parking))
                    {
                        if (!await RunSegmentAsync([item], parking, completed, stopping, aborting).ConfigureAwait(false))
                        {
                            return false;
                        }
                    }
                    else if (await HoldAsync(item, parking, stopping, aborting).ConfigureAwait(false))
                    {
                        completed(item.Record.Offset + 1);
                    }
                    else
                    {
                        return false;
                    }
                }

                return true;
            }
            else if (kind == InboxFailureKind.Permanent || attempt >= _settings.MaxAttempts)
            {
                var deadLetter = new DeadLetter(
                    kind == InboxFailureKind.Permanent ? ParkReason.Rejected : DeadLetterReason.HandlerFailed,
                    failure.Exception.GetType().FullName ?? failure.Exception.GetType().Name,
                    $"{failure.HandlerName}: {failure.Exception.Message}",
                    attempt);
                if (!await ParkFailedAsync(segment[0], deadLetter, parking, stopping, aborting).ConfigureAwait(false))
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

            // The concurrency slot is free during the wait: another partition's transaction may run meanwhile.
            if (!await WaitAsync(delay, stopping, aborting).ConfigureAwait(false))
            {
                return false;
            }
        }
    }

    /// <summary>One transaction (in a concurrency slot); any error of it, wherever it happened, is returned for classification.</summary>
    /// <returns><see langword="null"/> when committed, or when aborted (check the token).</returns>
    private async Task<HandlerFailure?> TryCommitAsync(InboxItem[] segment, int attempt, long? replayedOffset, CancellationToken aborting)
    {
        try
        {
            await EnterSlotAsync(aborting).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborting.IsCancellationRequested)
        {
            return null;
        }

        try
        {
            return await CommitSegmentAsync(segment, attempt, replayedOffset, aborting).ConfigureAwait(false);
        }
        catch (Exception ex) when (!aborting.IsCancellationRequested)
        {
            // The inbox insert or the COMMIT (a deferred constraint, a serialization failure) failed: classified like a handler's error.
            return new HandlerFailure("inbox transaction", ex);
        }
        catch (Exception) when (aborting.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            _concurrency?.Release();
        }
    }

    /// <summary>The record failed for good: to the dead-letter topic (as before), then into the parked table; its key parks.</summary>
    private async Task<bool> ParkFailedAsync(InboxItem item, DeadLetter deadLetter, PartitionParking parking, CancellationToken stopping, CancellationToken aborting)
    {
        var record = item.Record;
        var (topic, refused) = await TryDeadLetterAsync(record, deadLetter, aborting).ConfigureAwait(false);
        if (aborting.IsCancellationRequested)
        {
            return false;
        }

        if (topic is not null)
        {
            Log.DeadLettered(_logger, record.Topic, record.Partition, record.Offset, record.Id, _settings.ConsumerGroup, topic, deadLetter.Reason, deadLetter.ErrorMessage);
            _telemetry.DeadLettered(record, _settings.ConsumerGroup, deadLetter.Reason);
        }

        var parked = new ParkedRecord
        {
            Record = record,
            State = ParkedState.Parked,
            Reason = deadLetter.Reason,
            ErrorType = deadLetter.ErrorType,
            Error = refused is null ? deadLetter.ErrorMessage : RefusedMessage(deadLetter.ErrorMessage, refused),
            Attempts = deadLetter.Attempts,
            ParkedAt = _timeProvider.GetUtcNow(),
        };
        if (!await StoreParkedAsync(parked, item.Tenant, parking, stopping, aborting).ConfigureAwait(false))
        {
            return false;
        }

        Log.Parked(_logger, record.Topic, record.Partition, record.Offset, record.Id, _settings.ConsumerGroup, deadLetter.Reason, deadLetter.Attempts, parked.Error);
        parking.Park(item.Tenant, record.Key, parked.ParkedAt);
        return true;
    }

    /// <summary>A later record of a parked key: stored behind it, in offset order, with the partition's offset.</summary>
    private async Task<bool> HoldAsync(InboxItem item, PartitionParking parking, CancellationToken stopping, CancellationToken aborting)
    {
        var held = new ParkedRecord
        {
            Record = item.Record,
            State = ParkedState.Held,
            Reason = ParkReason.KeyParked,
            ParkedAt = _timeProvider.GetUtcNow(),
        };
        if (!await StoreParkedAsync(held, item.Tenant, parking, stopping, aborting).ConfigureAwait(false))
        {
            return false;
        }

        Log.Held(_logger, item.Record.Topic, item.Record.Partition, item.Record.Offset, _settings.ConsumerGroup);
        return true;
    }

    /// <summary>
    /// A record the inbox cannot read (unknown type, malformed, no id): to the dead-letter topic, and its key goes on.
    /// When the topic refuses it, it is kept in the parked table instead (state <see cref="ParkedState.DeadLetter"/>,
    /// which holds no key).
    /// </summary>
    private async Task<bool> DeadLetterUnreadableAsync(
        InboxItem item, DeadLetter deadLetter, PartitionParking parking, CancellationToken stopping, CancellationToken aborting, bool ownDatabase = false)
    {
        if (ownDatabase)
        {
            item = item.As(InboxRecordKind.DeadLetter, deadLetter);
        }

        var record = item.Record;
        var (topic, refused) = await TryDeadLetterAsync(record, deadLetter, aborting).ConfigureAwait(false);
        if (aborting.IsCancellationRequested)
        {
            return false;
        }

        if (topic is null)
        {
            var kept = new ParkedRecord
            {
                Record = record,
                State = ParkedState.DeadLetter,
                Reason = deadLetter.Reason,
                ErrorType = deadLetter.ErrorType,
                Error = RefusedMessage(deadLetter.ErrorMessage, refused!),
                Attempts = deadLetter.Attempts,
                ParkedAt = _timeProvider.GetUtcNow(),
            };
            return await StoreParkedAsync(kept, item.Tenant, parking, stopping, aborting).ConfigureAwait(false);
        }

        Log.DeadLettered(_logger, record.Topic, record.Partition, record.Offset, record.Id, _settings.ConsumerGroup, topic, deadLetter.Reason, deadLetter.ErrorMessage);
        _telemetry.DeadLettered(record, _settings.ConsumerGroup, deadLetter.Reason);

        // Store the position so that a restart does not dead-letter the record again. No inbox row: the event was not
        // handled, and replaying it from the dead-letter topic after a fix must not be skipped as a duplicate.
        // When stopped before it is stored, the dead letter is out and a later owner sends it again (at least once).
        var position = new InboxPosition(_settings.ConsumerGroup, record.Topic, record.Partition, record.Offset + 1);
        return await RetryDbAsync(record, item.Tenant, (db, ct) => _store.SaveOffsetAsync(db, position, _timeProvider.GetUtcNow(), ct), stopping, aborting).ConfigureAwait(false);
    }

    /// <summary>One attempt to send a dead letter: a refusal (too large, topic missing or not writable, broker away) must not stop the partition.</summary>
    /// <returns>The dead-letter topic, or the error that refused it.</returns>
    private async Task<(string? Topic, Exception? Error)> TryDeadLetterAsync(InboxRecord record, DeadLetter deadLetter, CancellationToken aborting)
    {
        try
        {
            return (await _deadLetters.PublishAsync(record, _settings.ConsumerGroup, deadLetter, aborting).ConfigureAwait(false), null);
        }
        catch (Exception ex) when (!aborting.IsCancellationRequested)
        {
            Log.DeadLetterRefused(_logger, ex, record.Topic, record.Partition, record.Offset, _settings.ConsumerGroup);
            _telemetry.DeadLetterFellBack(record, _settings.ConsumerGroup);
            return (null, ex);
        }
        catch (Exception) when (aborting.IsCancellationRequested)
        {
            return (null, null);
        }
    }

    private static string RefusedMessage(string error, Exception refused) =>
        $"{error} (the dead-letter topic refused it: {refused.GetType().Name}: {refused.Message})";

    private async Task<bool> StoreParkedAsync(ParkedRecord parked, string? tenant, PartitionParking parking, CancellationToken stopping, CancellationToken aborting)
    {
        if (!await RetryDbAsync(parked.Record, tenant, (db, ct) => _store.ParkAsync(db, _settings.ConsumerGroup, parked, _timeProvider.GetUtcNow(), ct), stopping, aborting).ConfigureAwait(false))
        {
            return false;
        }

        parking.RowStored(tenant);
        _telemetry.RecordParked(parked.Record, _settings.ConsumerGroup, parked.State);
        return true;
    }

    private Task<bool> RemoveParkedAsync(InboxRecord record, string? tenant, CancellationToken stopping, CancellationToken aborting) =>
        RetryDbAsync(record, tenant, (db, ct) => _store.RemoveParkedAsync(db, _settings.ConsumerGroup, record.Topic, record.Partition, record.Offset, ct), stopping, aborting);

    /// <summary>
    /// A bookkeeping write of the inbox itself (offset, parked row), retried with backoff until it succeeds: the
    /// values are the library's own, so an error here is the database's (down, or its schema missing), logged at warning.
    /// </summary>
    /// <returns><see langword="false"/> when stopped before it succeeded.</returns>
    private async Task<bool> RetryDbAsync(InboxRecord record, string? tenant, Func<DbContext, CancellationToken, Task> write, CancellationToken stopping, CancellationToken aborting)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                await WithDbAsync(tenant, async (db, ct) =>
                {
                    await write(db, ct).ConfigureAwait(false);
                    return true;
                }, aborting).ConfigureAwait(false);
                return true;
            }
            catch (UnknownTenantException ex) when (tenant is not null)
            {
                // The tenant went away while its record was on the way: keep the bookkeeping in the consumer's own
                // database (its parked table stays visible to operators) rather than stop the partition.
                Log.UnknownTenant(_logger, ex.Tenant, record.Topic, record.Partition, record.Offset, _settings.ConsumerGroup);
                tenant = null;
            }
            catch (Exception ex) when (!aborting.IsCancellationRequested)
            {
                failures++;
                var delay = Backoff(failures);
                Log.ParkFailed(_logger, ex, record.Topic, record.Partition, record.Offset, _settings.ConsumerGroup, delay);
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
    }

    /// <summary>Runs a database operation on a fresh scope's context (in the tenant's database), in a concurrency slot.</summary>
    private async Task<T> WithDbAsync<T>(string? tenant, Func<DbContext, CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        await EnterSlotAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var scope = _scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                var db = ResolveDb(scope.ServiceProvider, tenant);
                return await operation(db, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _concurrency?.Release();
        }
    }

    /// <summary>The consumer's context from a new scope; with a tenant, after <see cref="InboxTenantRouting.UseTenant"/> pointed the scope at the tenant's database.</summary>
    /// <exception cref="UnknownTenantException">The application does not know the tenant.</exception>
    private DbContext ResolveDb(IServiceProvider services, string? tenant)
    {
        if (tenant is not null && _routing is not null && !_routing.UseTenant!(services, tenant))
        {
            throw new UnknownTenantException(tenant);
        }

        return (DbContext)services.GetRequiredService(_settings.DbContextType);
    }

    private Task EnterSlotAsync(CancellationToken cancellationToken) =>
        _concurrency is null ? Task.CompletedTask : _concurrency.WaitAsync(cancellationToken);

    /// <summary>One transaction: inbox rows, offset, handlers, save, commit.</summary>
    /// <returns><see langword="null"/> when committed; the handler failure when a handler (or saving its changes) threw.</returns>
    private async Task<HandlerFailure?> CommitSegmentAsync(InboxItem[] segment, int attempt, long? replayedOffset, CancellationToken cancellationToken)
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

        var tenant = segment[0].Tenant;
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            var db = ResolveDb(scope.ServiceProvider, tenant);
            var strategy = db.Database.CreateExecutionStrategy();
            if (!strategy.RetriesOnFailure)
            {
                return await CommitSegmentAsync(scope.ServiceProvider, db, segment, entries, attempt, replayedOffset, cancellationToken).ConfigureAwait(false);
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
                        return await CommitSegmentAsync(scope.ServiceProvider, db, segment, entries, attempt, replayedOffset, ct).ConfigureAwait(false);
                    }

                    var retryScope = _scopes.CreateAsyncScope();
                    await using (retryScope.ConfigureAwait(false))
                    {
                        var retryDb = ResolveDb(retryScope.ServiceProvider, tenant);
                        return await CommitSegmentAsync(retryScope.ServiceProvider, retryDb, segment, entries, attempt, replayedOffset, ct).ConfigureAwait(false);
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<HandlerFailure?> CommitSegmentAsync(
        IServiceProvider services, DbContext db, InboxItem[] segment, List<InboxEntry> entries, int attempt, long? replayedOffset, CancellationToken cancellationToken)
    {
        var last = segment[^1].Record;
        var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            var position = new InboxPosition(_settings.ConsumerGroup, last.Topic, last.Partition, last.Offset + 1);
            var fresh = await _store.AddAsync(db, position, entries, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            if (replayedOffset is { } offset)
            {
                // A replayed record leaves the parked table in the transaction that handles it: never both, never neither.
                await _store.RemoveParkedAsync(db, _settings.ConsumerGroup, last.Topic, last.Partition, offset, cancellationToken).ConfigureAwait(false);
            }

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
                        _telemetry.HandlerDone(item.Record, _settings.ConsumerGroup, _timeProvider.GetElapsedTime(startedAt));
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
            _telemetry.Committed(segment, fresh, duplicates, _settings.ConsumerGroup);
            return null;
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

    /// <summary>A connection failure, a failover, too many connections, a serialization failure or a deadlock: errors that say nothing about the record.</summary>
    internal static bool IsTransient(Exception exception) => Classify(exception) == InboxFailureKind.Transient;

    /// <summary>
    /// Classifies an error of a record's transaction. Transient: <see cref="DbException.IsTransient"/> anywhere in the
    /// chain, or SQLSTATE 40001 (serialization failure) or 40P01 (deadlock). Permanent: SQLSTATE class 22 (data
    /// exception, e.g. a NUL byte in text), class 23 (integrity violation, also when a deferred constraint fails at
    /// COMMIT) or 54000 (e.g. an index row too large). Anything else counts as an attempt.
    /// </summary>
    internal static InboxFailureKind Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var permanent = false;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException db)
            {
                var state = db.SqlState;
                if (db.IsTransient || state is "40001" or "40P01")
                {
                    return InboxFailureKind.Transient;
                }

                permanent |= state is not null && (state.StartsWith("22", StringComparison.Ordinal) || state.StartsWith("23", StringComparison.Ordinal) || state == "54000");
            }
        }

        return permanent ? InboxFailureKind.Permanent : InboxFailureKind.Attempt;
    }

    private sealed record HandlerFailure(string HandlerName, Exception Exception);

    /// <summary>A record names a tenant the application does not know (<see cref="InboxTenantRouting.UseTenant"/> returned false).</summary>
    private sealed class UnknownTenantException(string tenant) : Exception($"The application does not know tenant '{tenant}'.")
    {
        public string Tenant { get; } = tenant;
    }
}
