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
    }

    /// <summary>$1 group, $2 topic, $3 partition, $4 handled_at, $5 ids (text[]), $6 offsets (bigint[]).</summary>
    public string InsertMessages { get; }

    /// <summary>$1 group, $2 topic, $3 partition, $4 next offset, $5 updated_at; never moves a stored offset back.</summary>
    public string UpsertOffset { get; }

    /// <summary>$1 group, $2 topics (text[]).</summary>
    public string SelectOffsets { get; }

    /// <summary>$1 group, $2 cutoff, $3 limit.</summary>
    public string DeleteHandledBefore { get; }
}
