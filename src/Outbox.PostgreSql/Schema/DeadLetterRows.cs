using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// The dead-letter table's row contract in SQL: the columns the relays write when they dead-letter an outbox row
/// (<see cref="OutboxRows.EventColumns"/> and the failure) and the one reader of <see cref="DeadLetterRow"/>.
/// </summary>
internal static class DeadLetterRows
{
    /// <summary>The columns a relay writes: the event's, its attempts, the last error and when (parameters or <c>now()</c>).</summary>
    public const string WriteColumns = OutboxRows.EventColumns + ", attempts, last_error, dead_lettered_at";

    /// <summary>The columns <see cref="Read"/> reads, in its order.</summary>
    public const string ReadColumns = "id, aggregatetype, aggregateid, type, payload::text, attempts, last_error, created_at, dead_lettered_at";

    /// <summary>Reads a row selected with <see cref="ReadColumns"/>.</summary>
    /// <param name="reader">A reader on the row.</param>
    /// <returns>The dead letter.</returns>
    public static DeadLetterRow Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5),
        reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetFieldValue<DateTimeOffset>(8));
}
