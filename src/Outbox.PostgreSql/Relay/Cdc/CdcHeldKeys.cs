using Outbox.Providers;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// The keys (aggregate type, aggregate id) a replication session holds back: their rows stay in the outbox table and
/// are not handed to the producer. Loaded from the parked-keys table when the session starts, joined by keys whose
/// event failed, left by a key once the stream reaches its release (see <see cref="CdcStreamSession"/>).
/// </summary>
/// <remarks>Thread-safe: the publisher reads and removes, the settler adds.</remarks>
internal sealed class CdcHeldKeys
{
    private readonly Lock _gate = new();
    private readonly HashSet<(string Type, string Id)> _keys = [];

    public CdcHeldKeys(IEnumerable<(string Type, string Id)> keys)
    {
        foreach (var key in keys)
        {
            _keys.Add(key);
        }
    }

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

    public bool Contains(OutboxRecord message)
    {
        lock (_gate)
        {
            return _keys.Count > 0 && _keys.Contains((message.AggregateType, message.AggregateId));
        }
    }

    public void Add(OutboxRecord message)
    {
        lock (_gate)
        {
            _keys.Add((message.AggregateType, message.AggregateId));
        }
    }

    public void Remove((string Type, string Id) key)
    {
        lock (_gate)
        {
            _keys.Remove(key);
        }
    }
}
