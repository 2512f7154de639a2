using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>
/// The parked keys of one partition, as its worker knows them: read from the parked table at assignment (with tenant
/// routing: from a tenant's database when the worker first meets that tenant), added to when a record parks its key,
/// replaced when a replay (or a discard) released a key. Records of a key in this set are held in the parked table
/// instead of being handled. Records without a key park only themselves, so they are never in it. With tenant routing a
/// key is parked per tenant: the same key in two tenants' databases is two aggregates. Read by metrics and health from
/// other threads.
/// </summary>
internal sealed class PartitionParking
{
    private readonly object _gate = new();
    private readonly Dictionary<string, DateTimeOffset> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _tenantsWithRows = new(StringComparer.Ordinal);
    private volatile bool _hasRows;

    public PartitionParking(IEnumerable<InboxParkedKey> keys) => Reset(null, keys);

    /// <summary>Gets a value indicating whether the partition has rows in the parked table (its worker then checks for replay requests).</summary>
    public bool HasRows => _hasRows;

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

    /// <summary>Gets the tenants (<see langword="null"/>: the consumer's own database) whose parked table has rows of this partition.</summary>
    public IReadOnlyList<string?> TenantsWithRows
    {
        get
        {
            lock (_gate)
            {
                return [.. _tenantsWithRows.Select(t => t.Length == 0 ? null : t)];
            }
        }
    }

    /// <summary>A row of the partition was stored in the parked table of the tenant's database.</summary>
    public void RowStored(string? tenant = null)
    {
        lock (_gate)
        {
            _tenantsWithRows.Add(tenant ?? "");
            _hasRows = true;
        }
    }

    public bool IsParked(byte[]? key) => IsParked(null, key);

    public bool IsParked(string? tenant, byte[]? key)
    {
        if (key is null)
        {
            return false;
        }

        lock (_gate)
        {
            return _keys.Count > 0 && _keys.ContainsKey(Compose(tenant, key));
        }
    }

    public void Park(byte[]? key, DateTimeOffset parkedAt) => Park(null, key, parkedAt);

    public void Park(string? tenant, byte[]? key, DateTimeOffset parkedAt)
    {
        if (key is null)
        {
            return;
        }

        lock (_gate)
        {
            _keys.TryAdd(Compose(tenant, key), parkedAt);
            _tenantsWithRows.Add(tenant ?? "");
            _hasRows = true;
        }
    }

    public void Release(byte[]? key) => Release(null, key);

    public void Release(string? tenant, byte[]? key)
    {
        if (key is null)
        {
            return;
        }

        lock (_gate)
        {
            _keys.Remove(Compose(tenant, key));
        }
    }

    /// <summary>Replaces the set with the keys the parked table has now (a discard or another change by an operator).</summary>
    public void Reset(IEnumerable<InboxParkedKey> keys) => Reset(null, keys);

    /// <summary>Replaces the tenant's keys with the ones its parked table has now; the other tenants' keys stay.</summary>
    public void Reset(string? tenant, IEnumerable<InboxParkedKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var prefix = (tenant ?? "") + "\0";
        lock (_gate)
        {
            foreach (var stale in _keys.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                _keys.Remove(stale);
            }

            var rows = false;
            foreach (var key in keys)
            {
                rows = true;
                if (key.Holds && key.Key is not null)
                {
                    _keys[Compose(tenant, key.Key)] = key.ParkedAt;
                }
            }

            if (rows)
            {
                _tenantsWithRows.Add(tenant ?? "");
            }
            else
            {
                _tenantsWithRows.Remove(tenant ?? "");
            }

            _hasRows = _tenantsWithRows.Count > 0;
        }
    }

    /// <summary>The tenant (empty for the consumer's own database; tenant names are never empty) and the key, apart by a NUL.</summary>
    private static string Compose(string? tenant, byte[] key) => (tenant ?? "") + "\0" + Convert.ToBase64String(key);
}
