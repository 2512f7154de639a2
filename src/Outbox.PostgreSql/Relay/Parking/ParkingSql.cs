namespace Outbox.PostgreSql;

/// <summary>
/// Every statement about parked keys, shared by the polling relay, the CDC relay and the operator API: the one place
/// the rules of holding a key live. Identifiers come from <see cref="OutboxTableNames"/>; values are parameters.
/// </summary>
/// <remarks>
/// <para>
/// A key is <em>held</em> while its row in the parked-keys table has no <c>released_at_lsn</c> and is either parked
/// (<c>parked_at</c>) or retrying (<c>retry_at</c> in the future). A held key's events stay in the outbox table in
/// their order; every other key flows.
/// </para>
/// <para>
/// A release (operator replay or discard, or the CDC relay's retry) takes a SHARE ROW EXCLUSIVE lock on the outbox
/// table, so that every transaction that wrote to it has committed and none writes until the release commits, notes
/// the WAL position in <c>released_at_lsn</c>, and inserts the key's waiting events again, in order, in its own
/// transaction. The polling relay then claims them in the new commit order; the CDC relay streams them again, and
/// tells the copies it must skip (committed before <c>released_at_lsn</c>) from the ones it must publish (after it).
/// </para>
/// </remarks>
internal sealed class ParkingSql
{
    public ParkingSql(OutboxOptions options)
    {
        var n = new OutboxTableNames(options);
        Table = n.ParkedKeys;
        MessagesTable = n.Messages;
        Channel = n.NotificationChannel;

        // Attempts count per (key, event): the same event failing again adds one, another event of the key starts at one.
        // The backoff: base * 2^(attempts-1), capped, then between half and all of it.
        Fail = $"""
            WITH prior AS (
                SELECT attempts FROM {n.ParkedKeys} WHERE aggregatetype = $1 AND aggregateid = $2 AND message_id = $4),
            d AS (
                SELECT coalesce((SELECT attempts FROM prior), 0) + 1 AS attempts),
            decision AS (
                SELECT d.attempts, ($6 OR d.attempts >= $7) AS park FROM d)
            INSERT INTO {n.ParkedKeys} AS p
                (aggregatetype, aggregateid, lane, message_id, attempts, last_error, retry_at, parked_at, released_at_lsn, updated_at)
            SELECT $1, $2, $3, $4, decision.attempts, $5,
                   CASE WHEN decision.park THEN NULL
                        ELSE now() + least($9::interval, $8::interval * power(2, least(decision.attempts - 1, 30))) * (0.5 + random() * 0.5) END,
                   CASE WHEN decision.park THEN now() END,
                   NULL, now()
            FROM decision
            WHERE /*guard*/true
            ON CONFLICT (aggregatetype, aggregateid) DO UPDATE SET
                lane = excluded.lane, message_id = excluded.message_id, attempts = excluded.attempts, last_error = excluded.last_error,
                retry_at = excluded.retry_at, parked_at = excluded.parked_at, released_at_lsn = NULL, updated_at = excluded.updated_at
            RETURNING p.attempts, p.parked_at IS NOT NULL, extract(epoch FROM coalesce(p.retry_at - now(), interval '0'))::float8
            """;

        // Forgets the failures of events that were published after all (a retry that succeeded).
        Forget = $"DELETE FROM {n.ParkedKeys} WHERE message_id = ANY($1) AND released_at_lsn IS NULL AND parked_at IS NULL";

        LockMessages = $"LOCK TABLE {n.Messages} IN SHARE ROW EXCLUSIVE MODE";

        // $3: reset the attempts (an operator's replay) or keep them (a relay's retry, which only releases a due key).
        // Returns the attempts before the reset: a discarded event's dead letter records how often it failed.
        MarkReleased = $"""
            UPDATE {n.ParkedKeys} p
            SET released_at_lsn = pg_current_wal_insert_lsn(), attempts = CASE WHEN $3 THEN 0 ELSE p.attempts END,
                retry_at = NULL, parked_at = NULL, updated_at = now()
            FROM (SELECT attempts FROM {n.ParkedKeys} WHERE aggregatetype = $1 AND aggregateid = $2 FOR UPDATE) prior
            WHERE p.aggregatetype = $1 AND p.aggregateid = $2 AND p.released_at_lsn IS NULL AND ($4 OR (p.parked_at IS NULL AND p.retry_at <= now()))
            RETURNING p.message_id, p.lane, prior.attempts, p.last_error
            """;

        DiscardHead = $"""
            WITH moved AS (
                DELETE FROM {n.Messages} WHERE id = $1 AND published_at IS NULL
                RETURNING {OutboxRows.EventColumns})
            INSERT INTO {n.DeadLetters} ({DeadLetterRows.WriteColumns})
            SELECT {OutboxRows.EventColumns}, $2, $3, now() FROM moved
            ON CONFLICT (id) DO NOTHING
            """;

        // The key's waiting events, deleted and inserted again in their order: commit_seq where it is known (the trigger's,
        // or an earlier release's), then commit time (rows without one), then id. The new rows carry their rank as
        // commit_seq: the trigger (polling schema) numbers them again at commit, in this order; without the trigger
        // (CDC schema) the rank keeps them ahead of the key's later rows at the next release.
        Reinsert = $"""
            WITH moved AS (
                DELETE FROM {n.Messages} m WHERE m.aggregatetype = $1 AND m.aggregateid = $2 AND m.published_at IS NULL
                RETURNING m.*, m.xmin)
            INSERT INTO {n.Messages} ({OutboxRows.EventColumns}, attempts, last_error, next_attempt_at, published_at)
            SELECT id, aggregatetype, aggregateid, type, payload, lane,
                   row_number() OVER (ORDER BY moved.commit_seq NULLS LAST, {UnnumberedRowOrder.OrderBy("moved")}),
                   created_at, traceparent, tracestate, 0, NULL, NULL, NULL
            FROM moved
            ORDER BY moved.commit_seq NULLS LAST, {UnnumberedRowOrder.OrderBy("moved")}
            """;

        Notify = "SELECT pg_notify($1, $2::text)";

        var columns = $"""
            p.aggregatetype, p.aggregateid, p.lane, p.message_id, p.attempts, p.last_error, p.retry_at, p.parked_at, p.updated_at,
            (SELECT count(*) FROM {n.Messages} m WHERE m.aggregatetype = p.aggregatetype AND m.aggregateid = p.aggregateid AND m.published_at IS NULL)::int,
            (SELECT m.type FROM {n.Messages} m WHERE m.id = p.message_id)
            """;
        List = $"""
            SELECT {columns} FROM {n.ParkedKeys} p
            WHERE p.released_at_lsn IS NULL AND ($2 OR p.parked_at IS NOT NULL)
            ORDER BY coalesce(p.parked_at, p.updated_at), p.aggregatetype, p.aggregateid
            LIMIT $1
            """;
        Get = $"SELECT {columns} FROM {n.ParkedKeys} p WHERE p.aggregatetype = $1 AND p.aggregateid = $2 AND p.released_at_lsn IS NULL";
        Summary = $"""
            SELECT count(*) FILTER (WHERE parked_at IS NOT NULL), count(*) FILTER (WHERE parked_at IS NULL AND retry_at IS NOT NULL),
                   min(parked_at)
            FROM {n.ParkedKeys} WHERE released_at_lsn IS NULL
            """;

        // Released rows the CDC relay no longer needs (it streamed past their position), and old ones of a polling-only
        // outbox (nothing reads released_at_lsn there).
        ForgetReleased = $"DELETE FROM {n.ParkedKeys} WHERE released_at_lsn IS NOT NULL AND (released_at_lsn <= $1 OR updated_at < now() - interval '7 days')";
    }

    /// <summary>The parked-keys table, qualified and quoted.</summary>
    public string Table { get; }

    public string MessagesTable { get; }

    /// <summary>The polling relay's notification channel (a release wakes the key's lane).</summary>
    public string Channel { get; }

    /// <summary>
    /// Records a failed attempt of event $4 (key $1/$2, lane $3, error $5; $6 permanent; $7 MaxAttempts; $8 base delay;
    /// $9 max delay) and returns (attempts, parked, seconds until the retry); unguarded (see <see cref="FailGuarded"/>).
    /// </summary>
    public string Fail { get; }

    /// <summary><see cref="Fail"/> guarded by <paramref name="guard"/> (a predicate; the statement does nothing when it is false).</summary>
    public string FailGuarded(string guard) => Fail.Replace("/*guard*/true", guard, StringComparison.Ordinal);

    public string Forget { get; }

    public string LockMessages { get; }

    /// <summary>Marks key $1/$2 released ($3 reset attempts; $4 any held state, or only a due retry); returns its head event, lane, attempts before the release and last error.</summary>
    public string MarkReleased { get; }

    /// <summary>Moves event $1 to the dead letters with attempts $2 and error $3.</summary>
    public string DiscardHead { get; }

    /// <summary>Deletes and inserts again, in order, the waiting events of key $1/$2.</summary>
    public string Reinsert { get; }

    public string Notify { get; }

    /// <summary>Held keys ($2: retrying ones too, or parked only), oldest first, at most $1.</summary>
    public string List { get; }

    public string Get { get; }

    /// <summary>One row: parked keys, retrying keys, oldest parked_at (the operator's status).</summary>
    public string Summary { get; }

    public string ForgetReleased { get; }

    /// <summary>The predicate (over outbox rows of alias <paramref name="alias"/>) that leaves out the events of held keys.</summary>
    public string NotHeld(string alias) => $"""
        NOT EXISTS (SELECT 1 FROM {Table} p
                    WHERE p.aggregatetype = {alias}.aggregatetype AND p.aggregateid = {alias}.aggregateid
                      AND p.released_at_lsn IS NULL AND (p.parked_at IS NOT NULL OR p.retry_at > now()))
        """;
}
