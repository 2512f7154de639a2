namespace Outbox.PostgreSql;

/// <summary>
/// The backlog queries. Neither scans the table: the head of each lane is one probe of the partial
/// (lane, commit_seq) index (past the events of held keys), and the count stops at <see cref="CountCap"/> rows; above it
/// the planner statistics (<c>n_live_tup</c>, kept current by every commit) give the estimate.
/// </summary>
internal sealed class BacklogSql
{
    public const int CountCap = 10_000;

    public BacklogSql(OutboxOptions options)
    {
        var n = new OutboxTableNames(options);
        var parking = new ParkingSql(options);
        Sample = $"""
            SELECT
                (SELECT min(h.created_at)
                   FROM generate_series(0, $1 - 1) AS l(lane)
                   CROSS JOIN LATERAL (
                       SELECT m.created_at FROM {n.Messages} m
                        WHERE m.lane = l.lane AND m.published_at IS NULL AND {parking.NotHeld("m")}
                        ORDER BY m.commit_seq
                        LIMIT 1) h),
                (SELECT count(*) FROM (SELECT 1 FROM {n.Messages} WHERE published_at IS NULL LIMIT {CountCap + 1}) c),
                (SELECT n_live_tup FROM pg_stat_user_tables WHERE schemaname = $2 AND relname = $3),
                current_database(),
                (SELECT count(*) FROM {n.ParkedKeys} WHERE released_at_lsn IS NULL AND parked_at IS NOT NULL),
                (SELECT min(parked_at) FROM {n.ParkedKeys} WHERE released_at_lsn IS NULL),
                (SELECT count(*) FROM {n.ParkedKeys} WHERE released_at_lsn IS NULL AND parked_at IS NULL AND retry_at IS NOT NULL)
            """;
    }

    /// <summary>$1 lane count, $2 schema, $3 table: oldest head created_at (held keys left out: they are reported as
    /// parked), capped count, statistics estimate, database, parked keys, oldest parked_at, keys retrying.</summary>
    public string Sample { get; }
}
