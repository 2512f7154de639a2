using Outbox.Providers;

namespace Outbox.PostgreSql.Inbox;

/// <summary>Every SQL statement of the PostgreSQL inbox store; identifiers come validated and quoted from <see cref="OutboxTableNames"/>, values are parameters.</summary>
internal sealed class InboxSql
{
    public InboxSql(OutboxOptions options)
    {
        var names = new OutboxTableNames(options);

        // unnest keeps one statement (one round trip) for a whole batch; RETURNING tells which ids are new.
        InsertMessages = $"""
            INSERT INTO {names.Inbox} (consumer_group, message_id, topic, partition, "offset", handled_at)
            SELECT $1, m.id, $2, $3, m.off, $4 FROM unnest($5::text[], $6::bigint[]) AS m(id, off)
            ON CONFLICT (consumer_group, message_id) DO NOTHING
            RETURNING message_id
            """;

        // Only ever forward: a member that lost the partition may commit (or start) a transaction for records it had
        // fetched after the new owner stored a later offset; its smaller offset must not win. The row is locked either
        // way, so the two transactions serialize and the comparison sees the other's committed offset.
        UpsertOffset = $"""
            INSERT INTO {names.InboxOffsets} AS stored (consumer_group, topic, partition, next_offset, updated_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (consumer_group, topic, partition)
            DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at
            WHERE stored.next_offset <= EXCLUDED.next_offset
            """;

        SelectOffsets = $"""
            SELECT topic, partition, next_offset FROM {names.InboxOffsets}
            WHERE consumer_group = $1 AND topic = ANY($2)
            """;

        // A bounded chunk per statement: a large backlog never holds one long transaction or lock set.
        DeleteHandledBefore = $"""
            DELETE FROM {names.Inbox} WHERE ctid = ANY(ARRAY(
                SELECT ctid FROM {names.Inbox} WHERE consumer_group = $1 AND handled_at < $2 LIMIT $3))
            """;

        // Columns of a parked row in the order ReadParked expects them.
        const string parkedColumns = """
            topic, partition, "offset", record_key, message_id, type, value, header_names, header_values, record_timestamp,
            state, reason, error_type, error, attempts, parked_at
            """;
        ParkedColumns = parkedColumns;

        InsertParked = $"""
            INSERT INTO {names.InboxParked} (consumer_group, {parkedColumns})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
            ON CONFLICT (consumer_group, topic, partition, "offset") DO NOTHING
            """;

        // Every key with rows (NULL for the records without a key). A key stays parked while any of its rows waits:
        // the parked record, or held records whose parked one was discarded.
        SelectParkedKeys = $"""
            SELECT record_key, min(parked_at), bool_or(state IN ('{ParkedState.Parked}', '{ParkedState.Held}')) FROM {names.InboxParked}
            WHERE consumer_group = $1 AND topic = $2 AND partition = $3
            GROUP BY record_key
            """;

        // The rows an operator asked to replay, and every other row of their keys (a record held after the request).
                SelectReplayRequests = $"""
            SELECT {parkedColumns} FROM {names.InboxParked} p
            WHERE consumer_group = $1 AND topic = $2 AND partition = $3
              AND (replay_requested_at IS NOT NULL OR (record_key IS NOT NULL AND EXISTS (
                    SELECT 1 FROM {names.InboxParked} q
                    WHERE q.consumer_group = $1 AND q.topic = $2 AND q.partition = $3 AND q.record_key = p.record_key
                      AND q.replay_requested_at IS NOT NULL)))
            ORDER BY "offset"
            """;

        DeleteParked = $"""
            DELETE FROM {names.InboxParked} WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND "offset" = $4
            """;

        Repark = $"""
            UPDATE {names.InboxParked}
            SET state = $5, reason = $6, error_type = $7, error = $8, attempts = $9, parked_at = $10, replay_requested_at = NULL
            WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND "offset" = $4
            """;

        EndKeyReplay = $"""
            UPDATE {names.InboxParked} SET replay_requested_at = NULL
            WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND record_key = $4
            """;
    }

    /// <summary>The columns of a parked row as the select statements return them.</summary>
    public string ParkedColumns { get; }

    /// <summary>$1 group, then the <see cref="ParkedColumns"/> in order as $2..$17.</summary>
    public string InsertParked { get; }

    /// <summary>$1 group, $2 topic, $3 partition: (record_key, oldest parked_at, holds) of each key with rows.</summary>
    public string SelectParkedKeys { get; }

    /// <summary>$1 group, $2 topic, $3 partition: the <see cref="ParkedColumns"/> of rows to replay, in offset order.</summary>
    public string SelectReplayRequests { get; }

    /// <summary>$1 group, $2 topic, $3 partition, $4 offset.</summary>
    public string DeleteParked { get; }

    /// <summary>$1 group, $2 topic, $3 partition, $4 offset, $5 state, $6 reason, $7 error type, $8 error, $9 attempts, $10 parked_at.</summary>
    public string Repark { get; }

    /// <summary>$1 group, $2 topic, $3 partition, $4 key (bytea).</summary>
    public string EndKeyReplay { get; }

    /// <summary>$1 group, $2 topic, $3 partition, $4 handled_at, $5 ids (text[]), $6 offsets (bigint[]).</summary>
    public string InsertMessages { get; }

    /// <summary>$1 group, $2 topic, $3 partition, $4 next offset, $5 updated_at; never moves a stored offset back.</summary>
    public string UpsertOffset { get; }

    /// <summary>$1 group, $2 topics (text[]).</summary>
    public string SelectOffsets { get; }

    /// <summary>$1 group, $2 cutoff, $3 limit.</summary>
    public string DeleteHandledBefore { get; }
}
