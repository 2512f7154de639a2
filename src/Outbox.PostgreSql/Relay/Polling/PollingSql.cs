namespace Outbox.PostgreSql;

/// <summary>
/// Every statement of the polling relay. Identifiers come from <see cref="OutboxTableNames"/> (validated, quoted);
/// values are always parameters. Lease times use the database clock (<c>now()</c>), so relay hosts need no clock sync.
/// </summary>
internal sealed class PollingSql
{
    public PollingSql(OutboxOptions options, bool retainPublished)
    {
        var n = new OutboxTableNames(options);
        var instances = n.Instances;
        Channel = n.NotificationChannel;
        Listen = $"LISTEN {SqlIdentifier.Quote(n.NotificationChannel)}";

        EnsureLanes = $"INSERT INTO {n.Lanes} (lane) SELECT generate_series(0, $1 - 1) ON CONFLICT (lane) DO NOTHING";
        FindOrphanLanes = $"""
            SELECT l.lane FROM {n.Lanes} l
            WHERE l.lane >= $1 AND EXISTS (SELECT 1 FROM {n.Messages} m WHERE m.lane = l.lane AND m.published_at IS NULL)
            ORDER BY l.lane
            """;

        Join = $"""
            INSERT INTO {instances} (instance_id, expires_at) VALUES ($1, now() + $2)
            ON CONFLICT (instance_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
            """;
        // Two heartbeats may forget the same dead instances at once: each skips the rows the other holds (locked in
        // instance order), so they never deadlock (seen once in the fleet run: 40P01 while deleting from the instances table).
        ForgetDeadInstances = $"""
            DELETE FROM {instances} WHERE instance_id IN (
                SELECT instance_id FROM {instances} WHERE expires_at < now() ORDER BY instance_id FOR UPDATE SKIP LOCKED)
            """;
        CountLiveInstances = $"SELECT count(*)::int FROM {instances} WHERE expires_at > now()";
        Leave = $"DELETE FROM {instances} WHERE instance_id = $1";

        // Renewal matches lane AND epoch: a lease taken over (even by this same instance again) is not renewed. Every
        // statement that locks several lane rows locks them in lane order, so that a heartbeat, a release and the
        // completions of two drain cycles never deadlock.
        Renew = $"""
            WITH locked AS (
                SELECT l.lane FROM {n.Lanes} l JOIN unnest($3::integer[], $4::bigint[]) AS h(lane, epoch) ON l.lane = h.lane AND l.epoch = h.epoch
                WHERE l.owner = $1
                ORDER BY l.lane
                FOR UPDATE OF l)
            UPDATE {n.Lanes} AS l SET lease_expires_at = now() + $2
            FROM locked WHERE l.lane = locked.lane
            RETURNING l.lane, l.epoch
            """;

        // SKIP LOCKED: instances acquiring at the same time never wait for each other; each free lane goes to one.
        Acquire = $"""
            WITH free AS (
                SELECT lane FROM {n.Lanes}
                WHERE lane < $2
                  AND (owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= now() OR (owner = $1 AND lane <> ALL($3)))
                ORDER BY lane
                LIMIT $4
                FOR UPDATE SKIP LOCKED)
            UPDATE {n.Lanes} AS l SET owner = $1, epoch = l.epoch + 1, lease_expires_at = now() + $5
            FROM free WHERE l.lane = free.lane
            RETURNING l.lane, l.epoch
            """;

        Release = $"""
            WITH locked AS (
                SELECT l.lane FROM {n.Lanes} l JOIN unnest($2::integer[], $3::bigint[]) AS h(lane, epoch) ON l.lane = h.lane AND l.epoch = h.epoch
                WHERE l.owner = $1
                ORDER BY l.lane
                FOR UPDATE OF l)
            UPDATE {n.Lanes} AS l SET owner = NULL, lease_expires_at = NULL
            FROM locked WHERE l.lane = locked.lane
            """;

        // Only the lease owner reads a lane, so no row locks are needed; commit_seq is the commit order. Events of held
        // keys (parked, or retrying later) wait in place; the last column is the failed attempts of a key's retried event.
        var parking = new ParkingSql(options);
        Parking = parking;
        // The batch also stops before the row at which the payloads read would pass the byte budget ($3), but always
        // holds at least one row. The windows run over the LIMITed rows only (a window over the whole lane would read it all).
        // Every lane of a drain cycle in one statement ($1 the lanes): per lane, its next rows in commit order.
        Claim = $"""
            SELECT c.* FROM unnest($1::integer[]) AS h(lane)
            CROSS JOIN LATERAL (
                SELECT {OutboxRows.EventColumns}, attempts, candidates FROM (
                    SELECT c.*, row_number() OVER w AS n, count(*) OVER () AS candidates,
                           sum(octet_length(c.payload::text)) OVER (w ROWS UNBOUNDED PRECEDING) AS bytes_through
                    FROM (
                        SELECT {OutboxRows.EventColumnsOf("m")}, CASE WHEN p.message_id = m.id THEN p.attempts ELSE 0 END AS attempts
                        FROM {n.Messages} m
                        LEFT JOIN {n.ParkedKeys} p ON p.aggregatetype = m.aggregatetype AND p.aggregateid = m.aggregateid
                        WHERE m.lane = h.lane AND m.commit_seq IS NOT NULL AND m.published_at IS NULL
                          AND (p.aggregatetype IS NULL OR p.released_at_lsn IS NOT NULL OR (p.parked_at IS NULL AND p.retry_at <= now()))
                        ORDER BY m.commit_seq
                        LIMIT $2) c
                    WINDOW w AS (ORDER BY c.commit_seq)) b
                WHERE b.n = 1 OR b.bytes_through <= $3) c
            ORDER BY c.lane, c.commit_seq
            """;

        // The fence, per lane of the cycle ($2 lanes, $3 epochs): owner $1, epoch, unexpired. FOR SHARE holds the lane rows
        // until the completion commits, so a takeover (FOR UPDATE SKIP LOCKED) cannot slip in between the check and the
        // writes; the statement returns the lanes still held, and only their rows ($4) are removed.
        const string held = "SELECT l.lane FROM {0} l JOIN unnest($2::integer[], $3::bigint[]) AS h(lane, epoch) ON l.lane = h.lane AND l.epoch = h.epoch " +
                            "WHERE l.owner = $1 AND l.lease_expires_at > now() ORDER BY l.lane FOR SHARE OF l";
        var lockHeld = string.Format(System.Globalization.CultureInfo.InvariantCulture, held, n.Lanes);
        CompleteAcknowledged = retainPublished
            ? $"""
              WITH held AS ({lockHeld}),
                   done AS (UPDATE {n.Messages} SET published_at = now()
                            WHERE id = ANY($4) AND published_at IS NULL AND lane IN (SELECT lane FROM held))
              SELECT lane FROM held
              """
            : $"""
              WITH held AS ({lockHeld}),
                   done AS (DELETE FROM {n.Messages} WHERE id = ANY($4) AND lane IN (SELECT lane FROM held))
              SELECT lane FROM held
              """;
        Fail = parking.FailGuarded($"EXISTS (SELECT 1 FROM {n.Lanes} WHERE lane = $10 AND owner = $11 AND epoch = $12 AND lease_expires_at > now())");
        Forget = parking.Forget;

        FindReadyLanes = $"""
            SELECT h.lane FROM unnest($1::integer[]) AS h(lane)
            WHERE EXISTS (SELECT 1 FROM {n.Messages} m WHERE m.lane = h.lane AND m.commit_seq IS NOT NULL AND m.published_at IS NULL
                          AND {parking.NotHeld("m")})
            """;

        // Ids are UUIDv7 (time-ordered): a row published before the cutoff was created before it, so its id is below
        // the smallest UUIDv7 of the cutoff's millisecond. The primary key then bounds the scan to old rows.
        DeleteExpiredPublished = $"""
            WITH cutoff AS (
                SELECT now() - $1 AS at,
                       lpad(to_hex((extract(epoch FROM now() - $1) * 1000)::bigint), 12, '0') AS ms)
            DELETE FROM {n.Messages} WHERE id IN (
                SELECT m.id FROM {n.Messages} m, cutoff c
                WHERE m.id < (substr(c.ms, 1, 8) || '-' || substr(c.ms, 9, 4) || '-7000-8000-000000000000')::uuid
                  AND m.published_at IS NOT NULL AND m.published_at < c.at
                LIMIT $2)
            """;

        CountPending = $"SELECT count(*) FROM {n.Messages} WHERE published_at IS NULL";

        // The commit-order trigger (created by OutboxSchema with OutboxCommitOrder.Trigger): its state ('O' enabled,
        // 'D' disabled, 'R'/'A' replica/always), or NULL when missing; and whether the table exists at all.
        MessagesTable = n.Messages;
        CommitTriggerName = n.CommitTriggerName;
        CommitTriggerState = """
            SELECT to_regclass($1) IS NOT NULL,
                   (SELECT t.tgenabled::text FROM pg_trigger t WHERE t.tgrelid = to_regclass($1) AND t.tgname = $2)
            """;
        CountUnordered = $"SELECT count(*) FROM {n.Messages} WHERE commit_seq IS NULL AND published_at IS NULL";
        CdcBacklogTable = n.CdcBacklog;
        CountCdcBacklog = $"SELECT count(*) FROM {n.CdcBacklog}";
    }

    /// <summary>The CDC relay's backlog table (rows that predate its slot): the polling relay never reads it.</summary>
    public string CdcBacklogTable { get; }

    public string CountCdcBacklog { get; }

    public string MessagesTable { get; }

    public string CommitTriggerName { get; }

    public string CommitTriggerState { get; }

    public string CountUnordered { get; }

    public string Channel { get; }

    public string Listen { get; }

    public string EnsureLanes { get; }

    public string FindOrphanLanes { get; }

    public string Join { get; }

    public string ForgetDeadInstances { get; }

    public string CountLiveInstances { get; }

    public string Leave { get; }

    public string Renew { get; }

    public string Acquire { get; }

    public string Release { get; }

    public string Claim { get; }

    /// <summary>Locks the cycle's leases that still hold, removes (or marks) their acknowledged rows, returns their lanes.</summary>
    public string CompleteAcknowledged { get; }

    /// <summary>Records a key's failure (<see cref="ParkingSql.Fail"/>), fenced by the lease: $10 lane, $11 owner, $12 epoch.</summary>
    public string Fail { get; }

    public string Forget { get; }

    public ParkingSql Parking { get; }

    public string FindReadyLanes { get; }

    public string DeleteExpiredPublished { get; }

    public string CountPending { get; }
}
