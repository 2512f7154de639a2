using Microsoft.EntityFrameworkCore;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// Per-DbContext bookkeeping of the interceptor: explicitly added events, the rows added by the running SaveChanges,
/// and the events written by an uncommitted transaction (so a second SaveChanges in it does not write them again and
/// a rollback makes them pending again).
/// </summary>
internal sealed class OutboxContextState : IOutbox
{
    private readonly List<object> _explicit = [];

    // Events whose rows are written in the current, not yet committed transaction, with their source entity.
    private readonly List<WrittenEvent> _writtenInTransaction = [];
    private readonly List<int> _savepoints = [];

    public IReadOnlyCollection<object> Pending => _explicit;

    /// <summary>Rows added to the change tracker by the SaveChanges in progress.</summary>
    public List<(OutboxMessage Message, WrittenEvent Source)> InFlight { get; } = [];

    public bool SubscribedToAmbientTransaction { get; set; }

    /// <summary>The <c>enqueue</c> span of the running SaveChanges, ended when it completes or fails.</summary>
    public System.Diagnostics.Activity? EnqueueActivity { get; set; }

    public void Add(object evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        _explicit.Add(evt);
    }

    public IEnumerable<WrittenEvent> CollectUnwritten(DbContext context)
    {
        foreach (var evt in _explicit)
        {
            if (!IsWritten(evt))
            {
                yield return new WrittenEvent(evt, null);
            }
        }

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

            foreach (var evt in events.ToArray())
            {
                if (!IsWritten(evt))
                {
                    yield return new WrittenEvent(evt, entity);
                }
            }
        }
    }

    public void MarkWritten(IEnumerable<WrittenEvent> events) => _writtenInTransaction.AddRange(events);

    public void Commit(IEnumerable<WrittenEvent> committed)
    {
        foreach (var group in committed.GroupBy(e => e.Owner))
        {
            var events = group.Select(e => e.Event).ToArray();
            if (group.Key is null)
            {
                foreach (var evt in events)
                {
                    RemoveByReference(_explicit, evt);
                }
            }
            else
            {
                group.Key.RemoveDomainEvents(events);
            }
        }
    }

    public void CommitTransaction()
    {
        Commit(_writtenInTransaction);
        ResetTransaction();
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
