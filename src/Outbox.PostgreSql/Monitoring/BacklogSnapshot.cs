namespace Outbox.PostgreSql;

/// <summary>One reading of the outbox backlog.</summary>
/// <param name="Pending">Pending rows: exact up to <see cref="BacklogSql.CountCap"/>, the statistics estimate above.</param>
/// <param name="Estimated">Whether <paramref name="Pending"/> is the estimate.</param>
/// <param name="OldestCreatedAt">When the oldest pending row (the oldest lane head) was written; null when none is pending.</param>
/// <param name="Database">The database name (the <c>db.namespace</c> attribute).</param>
/// <param name="SampledAt">When the reading was taken.</param>
internal sealed record BacklogSnapshot(long Pending, bool Estimated, DateTimeOffset? OldestCreatedAt, string Database, DateTimeOffset SampledAt)
{
    public TimeSpan OldestAge(DateTimeOffset now) => OldestCreatedAt is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero;
}
