using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// Per-DbContext bookkeeping of the interceptor: explicitly added events, the rows added by the running SaveChanges,
/// and the events written by an uncommitted transaction (so a second SaveChanges in it does not write them again and
/// a rollback makes them pending again). A scoped service of the context's internal service provider, so a pooled
/// context starts every lease clean (<see cref="IResettableService"/>).
/// </summary>
internal sealed class OutboxContextState : IOutbox, IResettableService
{
    private readonly List<object> _explicit = [];

    // Events whose rows are written in the current, not yet committed transaction, with their source entity.
    // Replaced (not cleared) when a pooled context is reset inside an ambient transaction: the old list then belongs to
    // that transaction's completion handler.
    private List<WrittenEvent> _writtenInTransaction = [];
    private readonly List<int> _savepoints = [];

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
    public void MarkInFlightWritten()
    {
        foreach (var (_, source) in InFlight)
        {
            _writtenInTransaction.Add(source);
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
        _savepoints.Clear();
        SubscribedToAmbientTransaction = false;
    }

    // EF's interceptors do not pass savepoint names, so savepoints are tracked as a stack: EF's own SaveChanges
    // savepoint and nested savepoints work; rolling back past a newer savepoint to an older one is not tracked.
    public void CreatedSavepoint() => _savepoints.Add(_writtenInTransaction.Count);

    public void ReleasedSavepoint()
    {
        if (_savepoints.Count > 0)
        {
            _savepoints.RemoveAt(_savepoints.Count - 1);
        }
    }

    public void RolledBackToSavepoint()
    {
        if (_savepoints.Count == 0)
        {
            return;
        }

        // The savepoint survives a ROLLBACK TO; what was written after it is gone.
        var count = _savepoints[^1];
        _writtenInTransaction.RemoveRange(count, _writtenInTransaction.Count - count);
    }

    /// <summary>
    /// A pooled context goes back to its pool: events added and never saved belong to the abandoned unit of work and
    /// must not be written by the next lease (a context that is simply disposed drops them the same way).
    /// </summary>
    public void ResetState()
    {
        _explicit.Clear();
        _unwritten.Clear();
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
