namespace Outbox.Benchmarks.Macro;

/// <summary>
/// The SQL of the raw baselines: the physical limits the library's figures are compared with. The tables live in
/// schema <c>bench_raw</c>, created by the library's own DDL script, so they have exactly the outbox table's shape.
/// </summary>
internal static class RawSql
{
    public const string Schema = "bench_raw";

    /// <summary>The outbox table of schema <see cref="Schema"/> (with the commit-order trigger, as the library has it).</summary>
    public const string Messages = "bench_raw.messages";

    /// <summary>The same shape with no trigger: the fastest table of this shape rows can be copied into.</summary>
    public const string PlainMessages = "bench_raw.messages_plain";

    /// <summary>The same shape with no trigger, published for logical decoding.</summary>
    public const string CdcMessages = "bench_raw.messages_cdc";

    public const string Publication = "bench_raw_pub";

    public const string Columns = "id, aggregatetype, aggregateid, type, payload, lane, created_at, traceparent, tracestate, attempts";

    public const string CreatePlainTables = $"""
        CREATE TABLE IF NOT EXISTS {PlainMessages} (LIKE {Messages} INCLUDING ALL);
        CREATE TABLE IF NOT EXISTS {CdcMessages} (LIKE {Messages} INCLUDING ALL);
        """;

    public const string CreatePublication = $"CREATE PUBLICATION {Publication} FOR TABLE {CdcMessages} WITH (publish = 'insert')";

    public const string InsertCdcRow = $"INSERT INTO {CdcMessages} ({Columns}) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, NULL, NULL, 0)";

    public static string CopyInto(string table) => $"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)";

    /// <summary>
    /// Claim and delete in one statement, in the order a relay must keep (the lane index: lane, then commit order).
    /// Every column a publisher needs is returned and read.
    /// </summary>
    public static string ClaimDelete(string table, int batch) => $"""
        WITH c AS (
            SELECT id FROM {table}
            WHERE published_at IS NULL
            ORDER BY lane, commit_seq
            LIMIT {batch}
            FOR UPDATE SKIP LOCKED)
        DELETE FROM {table} m USING c WHERE m.id = c.id
        RETURNING m.id, m.aggregatetype, m.aggregateid, m.type, m.payload, m.lane, m.commit_seq, m.created_at, m.traceparent, m.tracestate
        """;

    /// <summary>The same rows read without locking or deleting: what the claim costs on top of a read.</summary>
    public static string ReadBatch(string table, int batch) => $"""
        SELECT id, aggregatetype, aggregateid, type, payload, lane, commit_seq, created_at, traceparent, tracestate
        FROM {table}
        WHERE published_at IS NULL
        ORDER BY lane, commit_seq
        LIMIT {batch}
        """;

    /// <summary>Payloads as <c>jsonb</c> prints them (whitespace and key order), so Kafka records have the size a relay sends.</summary>
    public const string NormalizeJson = "SELECT x::jsonb::text FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n";

    /// <summary>Removes every baseline object, so that their dead rows and autovacuum stay out of the library's run that follows.</summary>
    public const string DropAll = $"DROP PUBLICATION IF EXISTS {Publication}; DROP SCHEMA IF EXISTS {Schema} CASCADE";

    public static string Vacuum(string table) => $"VACUUM ANALYZE {table}";
}
