using System.Globalization;
using Outbox.PostgreSql;

namespace Outbox.Cli;

/// <summary>The human-readable form of <c>dotnet outbox status --database ...</c>: one row per database, then a total row.</summary>
internal static class DatabaseStatusWriter
{
    public static void Write(IReadOnlyList<OutboxDatabaseStatus> databases, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        var rows = databases
            .OrderBy(d => d.Name, StringComparer.Ordinal)
            .Select(d => d.Status is { } s
                ? new[] { d.Name, Pending(s.Pending, s.PendingCapped), StatusWriter.Age(s.OldestPendingAge), s.ParkedKeys.ToString(c), s.DeadLetters.ToString(c), Leased(s.Lanes), "" }
                : [d.Name, "-", "-", "-", "-", "-", d.Error ?? "not read"])
            .ToList();

        var read = databases.Where(d => d.Status is not null).Select(d => d.Status!).ToList();
        var failed = databases.Count - read.Count;
        rows.Add(
        [
            "total",
            Pending(read.Sum(s => s.Pending), read.Any(s => s.PendingCapped)),
            StatusWriter.Age(read.Max(s => s.OldestPendingAge)),
            read.Sum(s => s.ParkedKeys).ToString(c),
            read.Sum(s => s.DeadLetters).ToString(c),
            Leased([.. read.SelectMany(s => s.Lanes)]),
            failed == 0 ? "" : string.Create(c, $"{failed} of {databases.Count} database(s) not read: not counted"),
        ]);

        TableWriter.Write(output, ["database", "pending", "oldest", "parked keys", "dead letters", "lanes leased", "error"], rows);
    }

    private static string Pending(long pending, bool capped) =>
        capped
            ? string.Create(CultureInfo.InvariantCulture, $"at least {pending}")
            : pending.ToString(CultureInfo.InvariantCulture);

    // Leased lanes and the relay instances (owners) that hold them; one instance may serve many databases.
    private static string Leased(IReadOnlyList<LaneStatus> lanes)
    {
        var leased = lanes.Where(l => l.Owner is not null).ToList();
        var owners = leased.Select(l => l.Owner).Distinct(StringComparer.Ordinal).Count();
        return leased.Count == 0
            ? "0"
            : string.Create(CultureInfo.InvariantCulture, $"{leased.Count} ({owners} owner{(owners == 1 ? "" : "s")})");
    }
}
