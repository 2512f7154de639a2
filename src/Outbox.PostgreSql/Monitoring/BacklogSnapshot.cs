namespace Outbox.PostgreSql;

/// <summary>One reading of the outbox backlog.</summary>
/// <param name="Pending">Pending rows: exact up to <see cref="BacklogSql.CountCap"/>, the statistics estimate above.</param>
/// <param name="Estimated">Whether <paramref name="Pending"/> is the estimate.</param>
/// <param name="OldestCreatedAt">When the oldest pending row (the oldest lane head) was written; null when none is pending.</param>
/// <param name="Database">The database name (the <c>db.namespace</c> attribute).</param>
/// <param name="SampledAt">When the reading was taken.</param>
/// <param name="ParkedKeys">Keys parked by a relay (their events wait for an operator).</param>
/// <param name="OldestParkedAt">When the longest-held key was held; null when none is.</param>
/// <param name="RetryingKeys">Keys whose event failed and waits for its automatic retry.</param>
internal sealed record BacklogSnapshot(
    long Pending, bool Estimated, DateTimeOffset? OldestCreatedAt, string Database, DateTimeOffset SampledAt,
    long ParkedKeys = 0, DateTimeOffset? OldestParkedAt = null, long RetryingKeys = 0)
{
    public TimeSpan OldestParkedAge(DateTimeOffset now) => OldestParkedAt is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero;

    public TimeSpan OldestAge(DateTimeOffset now) => OldestCreatedAt is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero;
}
