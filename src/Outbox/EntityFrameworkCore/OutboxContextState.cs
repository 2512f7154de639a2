using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// Per-DbContext bookkeeping of the interceptor: explicitly added events, the rows added by the running SaveChanges,
/// and the events written by an uncommitted transaction with their row ids (so a second SaveChanges in it does not write
/// them again, a rollback makes them pending again, and after a rollback to a savepoint or a transaction that ended
/// unseen the database says which rows still exist). A scoped service of the context's internal service provider, so a
/// pooled context starts every lease clean (<see cref="IResettableService"/>).
/// </summary>
internal sealed class OutboxContextState : IOutbox, IResettableService
{
    private readonly List<object> _explicit = [];

    // Events whose rows are written in the current, not yet committed transaction, with their source entity.
    // Replaced (not cleared) when a pooled context is reset inside an ambient transaction: the old list then belongs to
    // that transaction's completion handler.
    private List<WrittenEvent> _writtenInTransaction = [];

    // The EF Core transaction that wrote those rows (null: none, or an ambient transaction), by EF's transaction id: Npgsql
    // reuses one DbTransaction object for the successive transactions of a connection. A different current transaction at
    // the next SaveChanges or commit means it ended without EF seeing it (committed or rolled back on the DbTransaction
    // directly, disposed without commit).
    private Guid? _writtenBy;

    // A rollback to a savepoint (or a failed transaction operation) happened after rows were written: which of them still
    // exist is asked from the database before they are trusted again.
    private bool _mustVerify;

    // Events whose transaction ended unseen and whose rows were gone when checked: the transaction may have committed
    // and a relay deleted the rows already, so the rewrite keeps the id and a consumer's inbox drops it as a duplicate.
    private readonly Dictionary<object, Guid> _retryIds = new(ReferenceEqualityComparer.Instance);

    // Events collected by the running SaveChanges (reused between calls).
    private readonly List<WrittenEvent> _unwritten = [];

    public IReadOnlyCollection<object> Pending => _explicit;

    /// <summary>Rows added to the change tracker by the SaveChanges in progress, with the events they record.</summary>
    public List<(OutboxMessage Message, WrittenEvent Source)> InFlight { get; } = [];

    public bool SubscribedToAmbientTransaction { get; private set; }

    /// <summary>The <c>enqueue</c> span of the running SaveChanges, ended when it completes or fails.</summary>
    public System.Diagnostics.Activity? EnqueueActivity { get; set; }

    /// <summary>The mappings of the context's outbox, so <see cref="Add"/> rejects an unmapped event at once.</summary>
    public OutboxEventRegistry? Registry { get; set; }

    /// <summary>Gets the state of a context configured with <c>UseOutbox</c>.</summary>
    /// <exception cref="OutboxException">The context was not configured with <c>UseOutbox</c>.</exception>
    public static OutboxContextState For(DbContext context) =>
        Find(context) ?? throw new OutboxException(
            $"{context.GetType().Name} is not configured for the outbox: call optionsBuilder.UseOutbox(serviceProvider) where the context is configured.");

    /// <summary>Gets the state of a context if it was configured with <c>UseOutbox</c>.</summary>
    public static OutboxContextState? Find(DbContext? context) =>
        context is null ? null : (OutboxContextState?)((IInfrastructure<IServiceProvider>)context).Instance.GetService(typeof(OutboxContextState));

    public void Add(object evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        Registry?.GetMapping(evt.GetType());
        _explicit.Add(evt);
    }

    /// <summary>Collects the events not written yet: explicit ones first, then each tracked entity's, in order.</summary>
    /// <returns>A list owned by this state, valid until the next call.</returns>
    public List<WrittenEvent> CollectUnwritten(DbContext context)
    {
        _unwritten.Clear();
        foreach (var evt in _explicit)
        {
            if (!IsWritten(evt))
            {
                _unwritten.Add(new WrittenEvent(evt, null));
            }
        }

        // Entries() runs DetectChanges first, so entities reachable only through navigations are found too.
        foreach (var entry in context.ChangeTracker.Entries<IHasDomainEvents>())
        {
            if (entry.State == EntityState.Detached)
            {
                continue;
            }

            var entity = entry.Entity;
            var events = entity.DomainEvents;
            if (events.Count == 0)
            {
                continue;
            }

            foreach (var evt in events)
            {
                if (!IsWritten(evt))
                {
                    _unwritten.Add(new WrittenEvent(evt, entity));
                }
            }
        }

        return _unwritten;
    }

    /// <summary>Records that the in-flight rows were written by a transaction that has not committed yet.</summary>
    /// <param name="transaction">The EF Core transaction that wrote them; <see langword="null"/> for an ambient transaction.</param>
    public void MarkInFlightWritten(Guid? transaction)
    {
        if (transaction is not null)
        {
            _writtenBy = transaction;
        }

        foreach (var (message, source) in InFlight)
        {
            _writtenInTransaction.Add(source with { RowId = message.Id });
        }
    }

    /// <summary>The id to give the row of an event again, if it was written by a transaction whose outcome was not seen.</summary>
    public bool TryGetRetryId(object evt, out Guid id)
    {
        id = default;
        return _retryIds.Count > 0 && _retryIds.TryGetValue(evt, out id);
    }

    /// <summary>Whether a commit, rollback or failure of <paramref name="transaction"/> concerns the written rows.</summary>
    public bool WrittenBy(Guid transaction) => _writtenBy is null || _writtenBy == transaction;

    /// <summary>
    /// Checks the written rows against the database when the context lost track of them: after a rollback to a savepoint
    /// (rows written since are gone: their events become pending again) or when <paramref name="current"/> is not the
    /// transaction that wrote them (it ended without EF seeing it: rows that exist were committed, their events leave their
    /// sources; the others become pending again). Costs nothing otherwise.
    /// </summary>
    public void VerifyWrittenRows(DbContext context, Guid? current)
    {
        if (VerificationDue(current))
        {
            ApplyVerification(_writtenInTransaction.Count == 0 ? [] : WrittenRowCheck.Existing(context, WrittenIds()), current);
        }
    }

    /// <inheritdoc cref="VerifyWrittenRows"/>
    public async ValueTask VerifyWrittenRowsAsync(DbContext context, Guid? current, CancellationToken cancellationToken)
    {
        if (VerificationDue(current))
        {
            var existing = _writtenInTransaction.Count == 0
                ? []
                : await WrittenRowCheck.ExistingAsync(context, WrittenIds(), cancellationToken).ConfigureAwait(false);
            ApplyVerification(existing, current);
        }
    }

    /// <summary>A rollback to a savepoint: rows written since it are gone, which ones is asked at the next SaveChanges or commit.</summary>
    public void RolledBackToSavepoint()
    {
        if (_writtenBy is not null)
        {
            _mustVerify = true;
        }
    }

    /// <summary>A commit, rollback or savepoint operation failed: the written rows are checked before they are trusted again.</summary>
    public void TransactionFailed()
    {
        if (_writtenBy is not null)
        {
            _mustVerify = true;
        }
        else
        {
            ResetTransaction();
        }
    }

    private bool VerificationDue(Guid? current) =>
        _writtenBy is not null && (_mustVerify || current != _writtenBy);

    private Guid[] WrittenIds()
    {
        var ids = new Guid[_writtenInTransaction.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = _writtenInTransaction[i].RowId;
        }

        return ids;
    }

    private void ApplyVerification(HashSet<Guid> existing, Guid? current)
    {
        var ended = current != _writtenBy;
        var kept = new List<WrittenEvent>(_writtenInTransaction.Count);
        foreach (var written in _writtenInTransaction)
        {
            if (existing.Contains(written.RowId))
            {
                kept.Add(written);
            }
            else if (ended)
            {
                _retryIds[written.Event] = written.RowId;
            }
        }

        if (ended)
        {
            // Rows of an ended transaction that exist were committed.
            Commit(kept, removeExplicit: true);
            ResetTransaction();
        }
        else
        {
            _writtenInTransaction.Clear();
            _writtenInTransaction.AddRange(kept);
            _mustVerify = false;
        }
    }

    /// <summary>The in-flight rows were committed (SaveChanges' own transaction): their events leave their sources.</summary>
    public void CommitInFlight()
    {
        _unwritten.Clear();
        foreach (var (_, source) in InFlight)
        {
            _unwritten.Add(source);
        }

        Commit(_unwritten, removeExplicit: true);
        _unwritten.Clear();
    }

    public void CommitTransaction()
    {
        Commit(_writtenInTransaction, removeExplicit: true);
        ResetTransaction();
    }

    /// <summary>Clears the written events from their sources when the ambient transaction commits, or makes them pending on abort.</summary>
    public void SubscribeTo(System.Transactions.Transaction ambient)
    {
        if (SubscribedToAmbientTransaction)
        {
            return;
        }

        SubscribedToAmbientTransaction = true;
        var writes = _writtenInTransaction;
        ambient.TransactionCompleted += (_, e) =>
        {
            var committed = e.Transaction?.TransactionInformation.Status == System.Transactions.TransactionStatus.Committed;
            if (!ReferenceEquals(writes, _writtenInTransaction))
            {
                // The context went back to its pool before the transaction ended: only its entities remain to clear.
                if (committed)
                {
                    Commit(writes, removeExplicit: false);
                }

                return;
            }

            if (committed)
            {
                CommitTransaction();
            }
            else
            {
                ResetTransaction();
            }
        };
    }

    public void ResetTransaction()
    {
        _writtenInTransaction.Clear();
        _writtenBy = null;
        _mustVerify = false;
        SubscribedToAmbientTransaction = false;
    }

    /// <summary>
    /// A pooled context goes back to its pool: events added and never saved belong to the abandoned unit of work and
    /// must not be written by the next lease (a context that is simply disposed drops them the same way).
    /// </summary>
    public void ResetState()
    {
        _explicit.Clear();
        _unwritten.Clear();
        _retryIds.Clear();
        InFlight.Clear();
        EnqueueActivity = null;
        if (SubscribedToAmbientTransaction)
        {
            _writtenInTransaction = [];
        }

        ResetTransaction();
    }

    public Task ResetStateAsync(CancellationToken cancellationToken = default)
    {
        ResetState();
        return Task.CompletedTask;
    }

    // Events of one source are consecutive (collection order), so each source gets one RemoveDomainEvents call.
    private void Commit(List<WrittenEvent> committed, bool removeExplicit)
    {
        var start = 0;
        while (start < committed.Count)
        {
            var owner = committed[start].Owner;
            var end = start + 1;
            while (end < committed.Count && ReferenceEquals(committed[end].Owner, owner))
            {
                end++;
            }

            if (_retryIds.Count > 0)
            {
                for (var i = start; i < end; i++)
                {
                    _retryIds.Remove(committed[i].Event);
                }
            }

            if (owner is null)
            {
                // Explicit events of a context that was reset since are gone already.
                for (var i = start; i < end && removeExplicit; i++)
                {
                    RemoveByReference(_explicit, committed[i].Event);
                }
            }
            else
            {
                var events = new object[end - start];
                for (var i = start; i < end; i++)
                {
                    events[i - start] = committed[i].Event;
                }

                owner.RemoveDomainEvents(events);
            }

            start = end;
        }
    }

    private bool IsWritten(object evt)
    {
        foreach (var written in _writtenInTransaction)
        {
            if (ReferenceEquals(written.Event, evt))
            {
                return true;
            }
        }

        return false;
    }

    private static void RemoveByReference(List<object> list, object item)
    {
        var index = list.FindIndex(x => ReferenceEquals(x, item));
        if (index >= 0)
        {
            list.RemoveAt(index);
        }
    }
}
