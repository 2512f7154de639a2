namespace Outbox.PostgreSql;

/// <summary>
/// The commit order of outbox rows written without the commit-order trigger (<c>commit_seq</c> empty), for the two
/// paths that publish them from the table rather than from the WAL: the CDC relay's backlog when a slot is created,
/// and the default schema script that numbers them for the polling relay. The one place these SQL fragments live.
/// </summary>
/// <remarks>
/// <para>
/// PostgreSQL records the commit order of a committed row only with <c>track_commit_timestamp = on</c>: then
/// <c>pg_xact_commit_timestamp(xmin)</c> is the commit time of the transaction (or subtransaction) that wrote the row.
/// A transaction that waited on another's row lock commits after the holder released it, so its commit time is later:
/// ordering by commit time keeps per-key commit order for conflicting transactions, as the trigger does. Ties (the
/// subtransactions of one transaction share its commit time) fall back to the id, the write order within a transaction.
/// </para>
/// <para>
/// Rows without a commit time (tracking off, or switched on after they committed: switching it on needs a restart, so
/// those rows committed before every row that has one) come first. Among them the order is known only when a key's rows
/// were written by one transaction; when one key has rows of several such transactions their order is unknown, and the
/// paths refuse with <see cref="UnknownOrderMessage"/> unless <see cref="PostgreSqlOutboxOptions.UnknownCommitOrder"/>
/// (or the session setting <c>outbox.unknown_commit_order = 'write_order'</c> for a hand-run script) accepts write order.
/// </para>
/// </remarks>
internal static class UnnumberedRowOrder
{
    /// <summary>The session setting a hand-run schema script reads (the option sets it for <c>EnsureSchemaOnStart</c>).</summary>
    public const string SettingName = "outbox.unknown_commit_order";

    /// <summary>The value of <see cref="SettingName"/> that accepts write (id) order for rows of unknown commit order.</summary>
    public const string WriteOrderValue = "write_order";

    /// <summary>The commit time of the row <paramref name="alias"/>, or NULL when PostgreSQL does not know it.</summary>
    /// <remarks>The guard matters: with tracking off, <c>pg_xact_commit_timestamp</c> raises an error.</remarks>
    public static string CommitTime(string alias) =>
        $"(CASE WHEN current_setting('track_commit_timestamp')::boolean THEN pg_xact_commit_timestamp({alias}.xmin) END)";

    /// <summary>The ORDER BY list for rows of table alias <paramref name="alias"/> that have no <c>commit_seq</c>.</summary>
    public static string OrderBy(string alias) => $"{CommitTime(alias)} NULLS FIRST, {alias}.id";

    /// <summary>
    /// A query over <paramref name="table"/> (rows matching <paramref name="predicate"/>, alias <c>m</c>) that returns one
    /// row: how many keys have rows of unknown commit order from more than one transaction, and one such key as an example.
    /// </summary>
    public static string UnknownOrderKeys(string table, string predicate) => $"""
        SELECT count(*)::int, min(k.aggregatetype), min(k.aggregateid) FROM (
            SELECT m.aggregatetype, m.aggregateid FROM {table} m
            WHERE m.commit_seq IS NULL AND ({predicate}) AND {CommitTime("m")} IS NULL
            GROUP BY m.aggregatetype, m.aggregateid
            HAVING count(DISTINCT m.xmin::text) > 1) k
        """;

    /// <summary>The message of the refusal: what is unknown, why it matters, and the ways out.</summary>
    /// <param name="table">The quoted table.</param>
    /// <param name="keys">How many keys (a number, or a placeholder such as <c>%s</c>).</param>
    /// <param name="exampleType">One such key's aggregate type (or a placeholder).</param>
    /// <param name="exampleId">One such key's aggregate id (or a placeholder).</param>
    /// <param name="path">What would publish them, e.g. "in the new slot's backlog".</param>
    /// <param name="otherFix">A fix of this path's own, as a sentence, or empty.</param>
    public static string UnknownOrderMessage(string table, string keys, string exampleType, string exampleId, string path, string otherFix) =>
        $"{keys} key(s) in {table} (for example aggregate type '{exampleType}', id '{exampleId}') have events written without the " +
        "commit-order trigger by more than one transaction, and PostgreSQL did not record the order in which those transactions " +
        $"committed (track_commit_timestamp was off). Publishing them {path} could reorder those events. {otherFix}" +
        "To publish them in write order (the order their rows were inserted: commit order unless two transactions that wrote " +
        "the same key overlapped), set PostgreSqlOutboxOptions.UnknownCommitOrder = OutboxUnknownCommitOrder.WriteOrder, or run " +
        $"the schema script in a session with SET {SettingName} = '{WriteOrderValue}'. Set track_commit_timestamp = on (it needs " +
        "a restart) so that the commit order of rows written without the trigger is always known.";
}
