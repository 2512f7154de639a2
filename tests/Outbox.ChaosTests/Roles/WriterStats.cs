using System.Globalization;

namespace Outbox.ChaosTests.Roles;

/// <summary>What a writer did, as it saw it (the database's writer tables are the truth about what committed).</summary>
public sealed class WriterStats
{
    public const string Prefix = "stats:";

    private long _committedTransactions;
    private long _committedEvents;
    private long _rolledBackTransactions;
    private long _rolledBackEvents;
    private long _failedTransactions;
    private long _uncertainCommits;

    public void Committed(int events)
    {
        Interlocked.Increment(ref _committedTransactions);
        Interlocked.Add(ref _committedEvents, events);
    }

    public void RolledBack(int events)
    {
        Interlocked.Increment(ref _rolledBackTransactions);
        Interlocked.Add(ref _rolledBackEvents, events);
    }

    public void Failed() => Interlocked.Increment(ref _failedTransactions);

    public void Uncertain() => Interlocked.Increment(ref _uncertainCommits);

    public string Format() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Prefix} committed_tx={Interlocked.Read(ref _committedTransactions)} committed_events={Interlocked.Read(ref _committedEvents)} " +
        $"rolled_back_tx={Interlocked.Read(ref _rolledBackTransactions)} rolled_back_events={Interlocked.Read(ref _rolledBackEvents)} " +
        $"failed_tx={Interlocked.Read(ref _failedTransactions)} uncertain_commits={Interlocked.Read(ref _uncertainCommits)}");

    /// <summary>Reads one counter back from a <see cref="Format"/> line; 0 when absent.</summary>
    public static long Read(string? line, string name)
    {
        if (line is null)
        {
            return 0;
        }

        foreach (var part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.StartsWith(name + "=", StringComparison.Ordinal) && long.TryParse(part.AsSpan(name.Length + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }

        return 0;
    }
}
