namespace Outbox.ChaosTests.Roles;

/// <summary>How one writer transaction goes: which aggregates (sorted, so writers never deadlock), how many events each,
/// EF Core or ADO.NET, and whether it commits or is rolled back on purpose.</summary>
public sealed record TransactionPlan(IReadOnlyList<(string Key, int Events)> Keys, bool AdoNet, TransactionEnding Ending)
{
    public int EventCount => Keys.Sum(k => k.Events);

    public static TransactionPlan Next(Random random, int keys, int hotKeys)
    {
        ArgumentNullException.ThrowIfNull(random);
        var count = random.NextDouble() < 0.7 ? 1 : 2;
        var chosen = new SortedDictionary<string, int>(StringComparer.Ordinal);
        while (chosen.Count < Math.Min(count, keys))
        {
            // A few hot aggregates get a third of the traffic: transactions on them wait on each other's row locks,
            // which is the interleaving that commit-time ordering must get right.
            var index = random.NextDouble() < 0.3 ? random.Next(hotKeys) : random.Next(keys);
            chosen.TryAdd(Model.ChaosSchema.Key(index), random.NextDouble() < 0.8 ? 1 : random.Next(2, 4));
        }

        var roll = random.NextDouble();
        var ending = roll < 0.075 ? TransactionEnding.Rollback : roll < 0.15 ? TransactionEnding.Fail : TransactionEnding.Commit;
        return new TransactionPlan(chosen.Select(p => (p.Key, p.Value)).ToList(), random.NextDouble() < 0.25, ending);
    }
}
