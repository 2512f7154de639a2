using Npgsql;
using Outbox.Providers;

namespace Outbox.PostgreSql;

/// <summary>
/// The outbox table's row contract in SQL: the column lists every statement of this package uses for an outbox row
/// (the relays' reads, the CDC backlog, parking and dead-lettering, the enqueue API) and the one reader that turns such a
/// row into an <see cref="OutboxRecord"/>. The names are the columns of the schema script (<see cref="OutboxSchema"/>);
/// table names come from <see cref="OutboxTableNames"/>.
/// </summary>
internal static class OutboxRows
{
    /// <summary>The columns of an event, in the order <see cref="Read"/> reads them (ordinals 0 to 9).</summary>
    public const string EventColumns = "id, aggregatetype, aggregateid, type, payload, lane, commit_seq, created_at, traceparent, tracestate";

    /// <summary><see cref="EventColumns"/> and the failed attempts (ordinal 10): what a relay reads and copies.</summary>
    public const string RelayColumns = EventColumns + ", attempts";

    /// <summary>The columns the enqueue API writes, in parameter order: the commit-order trigger sets <c>commit_seq</c>.</summary>
    public const string WriteColumns = "id, aggregatetype, aggregateid, type, payload, lane, created_at, traceparent, tracestate, attempts";

    /// <summary><see cref="EventColumns"/> qualified with a table alias.</summary>
    /// <param name="alias">The alias.</param>
    /// <returns>The list, e.g. <c>m.id, m.aggregatetype, ...</c>.</returns>
    public static string EventColumnsOf(string alias) => string.Join(", ", EventColumns.Split(", ").Select(c => alias + "." + c));

    /// <summary>Reads a row selected with <see cref="RelayColumns"/> (or <see cref="EventColumns"/> and an attempts column).</summary>
    /// <param name="reader">A reader on the row.</param>
    /// <param name="database">The name of the database in a fleet of many (<see cref="OutboxRecord.Database"/>).</param>
    /// <returns>The record.</returns>
    public static OutboxRecord Read(NpgsqlDataReader reader, string? database = null) => new()
    {
        Id = reader.GetGuid(0),
        AggregateType = reader.GetString(1),
        AggregateId = reader.GetString(2),
        Type = reader.GetString(3),
        Payload = reader.GetString(4),
        Lane = reader.GetInt32(5),
        CommitSequence = reader.IsDBNull(6) ? null : reader.GetInt64(6),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(7),
        TraceParent = reader.IsDBNull(8) ? null : reader.GetString(8),
        TraceState = reader.IsDBNull(9) ? null : reader.GetString(9),
        Attempts = reader.GetInt32(10),
        Database = database,
    };
}
