namespace Outbox;

/// <summary>Column and index names of the outbox table: the contract shared by the EF model, the SQL script and every relay.</summary>
internal static class OutboxColumns
{
    public const string Id = "id";
    public const string AggregateType = "aggregatetype";
    public const string AggregateId = "aggregateid";
    public const string Type = "type";
    public const string Payload = "payload";
    public const string Lane = "lane";
    public const string CommitSequence = "commit_seq";
    public const string CreatedAt = "created_at";
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";
    public const string Attempts = "attempts";
    public const string LastError = "last_error";
    public const string NextAttemptAt = "next_attempt_at";
    public const string PublishedAt = "published_at";

    public static string PrimaryKeyName(string table) => "pk_" + table;

    public static string LaneIndexName(string table) => "ix_" + table + "_lane_commit_seq";
}
