using System.Globalization;
using Outbox.PostgreSql;

namespace Outbox.Cli;

/// <summary>The human-readable form of <c>dotnet outbox status</c>.</summary>
internal static class StatusWriter
{
    public static void Write(OutboxStatus status, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        var pending = status.PendingCapped ? $"at least {status.Pending.ToString(c)} (counted up to {OutboxAdministration.LaneCountCap.ToString(c)} per lane)" : status.Pending.ToString(c);
        output.WriteLine($"pending: {pending}   oldest: {Age(status.OldestPendingAge)}   parked keys: {status.ParkedKeys.ToString(c)}   retrying keys: {status.RetryingKeys.ToString(c)}   dead letters: {status.DeadLetters.ToString(c)}");
        output.WriteLine();

        var owners = status.Lanes.Where(l => l.Owner is not null).GroupBy(l => l.Owner!).ToList();
        output.WriteLine($"relay instances: {owners.Count}");
        TableWriter.Write(
            output,
            ["owner", "lanes", "lease expires (max)"],
            owners.Select(g => new[] { g.Key, g.Count().ToString(c), g.Max(l => l.LeaseExpiresAt)?.ToString("u", c) ?? "" }));
        output.WriteLine();

        var busy = status.Lanes.Where(l => l.Pending > 0).ToList();
        output.WriteLine($"lanes with pending rows: {busy.Count} of {status.Lanes.Count}");
        if (busy.Count > 0)
        {
            TableWriter.Write(
                output,
                ["lane", "pending", "oldest", "owner", "epoch"],
                busy.Select(l => new[] { l.Lane.ToString(c), l.Pending.ToString(c), Age(l.OldestPendingAge), l.Owner ?? "(none)", l.Epoch.ToString(c) }));
        }

        output.WriteLine();
        output.WriteLine($"replication slots: {status.ReplicationSlots.Count}");
        if (status.ReplicationSlots.Count > 0)
        {
            TableWriter.Write(
                output,
                ["slot", "active", "wal_status", "lag bytes", "retained bytes"],
                status.ReplicationSlots.Select(s => new[] { s.SlotName, s.IsActive ? "yes" : "no", s.WalStatus ?? "", s.LagBytes?.ToString(c) ?? "", s.RetainedWalBytes?.ToString(c) ?? "" }));
        }

        output.WriteLine();
        output.WriteLine($"inboxes: {status.Inboxes.Count}");
        if (status.Inboxes.Count > 0)
        {
            TableWriter.Write(
                output,
                ["consumer group", "dedup rows", "last handled", "partitions with stored offsets"],
                status.Inboxes.Select(i => new[] { i.ConsumerGroup, i.Handled.ToString(c), i.LastHandledAt?.ToString("u", c) ?? "", i.StoredPartitions.ToString(c) }));
        }
    }

    internal static string Age(TimeSpan? age) => age switch
    {
        null => "-",
        { TotalSeconds: < 1 } a => $"{a.TotalMilliseconds:0} ms",
        { TotalMinutes: < 2 } a => $"{a.TotalSeconds:0.0} s",
        { TotalHours: < 2 } a => $"{a.TotalMinutes:0.0} min",
        var a => $"{a.Value.TotalHours:0.0} h",
    };
}
