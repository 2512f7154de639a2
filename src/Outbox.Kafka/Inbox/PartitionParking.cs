using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>
/// The parked keys of one partition, as its worker knows them: read from the parked table at assignment, added to when
/// a record parks its key, removed when a replay (or a discard) released the key. Records of a key in this set are
/// held in the parked table instead of being handled. Records without a key park only themselves, so they are never
/// in it. Read by metrics and health from other threads.
/// </summary>
internal sealed class PartitionParking
{
    private readonly object _gate = new();
    private readonly Dictionary<string, DateTimeOffset> _keys = new(StringComparer.Ordinal);
    private volatile bool _hasRows;

    public PartitionParking(IEnumerable<InboxParkedKey> keys) => Reset(keys);

    /// <summary>Gets a value indicating whether the partition has rows in the parked table (its worker then checks for replay requests).</summary>
    public bool HasRows => _hasRows;

    /// <summary>A row of the partition was stored in the parked table.</summary>
    public void RowStored() => _hasRows = true;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _keys.Count;
            }
        }
    }

    /// <summary>Gets when the oldest parked key of the partition was parked, or <see langword="null"/> when none is.</summary>
    public DateTimeOffset? OldestParkedAt
    {
        get
        {
            lock (_gate)
            {
                return _keys.Count == 0 ? null : _keys.Values.Min();
            }
        }
    }

    public bool IsParked(byte[]? key)
    {
        if (key is null)
        {
            return false;
        }

        lock (_gate)
        {
            return _keys.Count > 0 && _keys.ContainsKey(Convert.ToBase64String(key));
        }
    }

    public void Park(byte[]? key, DateTimeOffset parkedAt)
    {
        if (key is null)
        {
            return;
        }

        lock (_gate)
        {
            _keys.TryAdd(Convert.ToBase64String(key), parkedAt);
            _hasRows = true;
        }
    }

    public void Release(byte[]? key)
    {
        if (key is null)
        {
            return;
        }

        lock (_gate)
        {
            _keys.Remove(Convert.ToBase64String(key));
        }
    }

    /// <summary>Replaces the set with the keys the parked table has now (a discard or another change by an operator).</summary>
    public void Reset(IEnumerable<InboxParkedKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        lock (_gate)
        {
            _keys.Clear();
            var rows = false;
            foreach (var key in keys)
            {
                rows = true;
                if (key.Holds && key.Key is not null)
                {
                    _keys[Convert.ToBase64String(key.Key)] = key.ParkedAt;
                }
            }

            _hasRows = rows;
        }
    }
}
