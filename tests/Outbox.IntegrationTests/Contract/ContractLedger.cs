namespace Outbox.IntegrationTests.Contract;

/// <summary>
/// What the contract tests committed and rolled back. Each committed event carries its key's aggregate version (bumped
/// under the row lock in the same transaction), so ordering by version, then by position in the transaction, gives
/// each key's commit order: the order Kafka must hold. Tokens are handed out in insertion order, so a key whose
/// commit order is not token order saw a transaction that wrote first and committed second.
/// </summary>
public sealed class ContractLedger
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<(int Version, int Index, int Token)>> _committed = [];
    private readonly HashSet<int> _rolledBack = [];

    public void Committed(IEnumerable<(string Key, int Version, int Index, int Token)> events)
    {
        lock (_gate)
        {
            foreach (var (key, version, index, token) in events)
            {
                if (!_committed.TryGetValue(key, out var list))
                {
                    _committed[key] = list = [];
                }

                list.Add((version, index, token));
            }
        }
    }

    public void RolledBack(IEnumerable<int> tokens)
    {
        lock (_gate)
        {
            _rolledBack.UnionWith(tokens);
        }
    }

    public int CommittedCount
    {
        get
        {
            lock (_gate)
            {
                return _committed.Values.Sum(l => l.Count);
            }
        }
    }

    public IReadOnlySet<int> RolledBackTokens
    {
        get
        {
            lock (_gate)
            {
                return _rolledBack.ToHashSet();
            }
        }
    }

    /// <summary>Each key's committed tokens in commit order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Expected()
    {
        lock (_gate)
        {
            return _committed.ToDictionary(
                e => e.Key,
                e => (IReadOnlyList<int>)e.Value.OrderBy(v => v.Version).ThenBy(v => v.Index).Select(v => v.Token).ToList());
        }
    }

    /// <summary>Pairs of consecutive events of a key whose commit order is the reverse of their insertion order.</summary>
    public int CountInversions() =>
        Expected().Values.Sum(tokens => tokens.Zip(tokens.Skip(1)).Count(p => p.First > p.Second));
}
