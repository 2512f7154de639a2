using Npgsql;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// The server connections of one application (<c>pg_stat_activity</c> rows with its <c>application_name</c>), by state;
/// <see cref="Listening"/> are those whose last statement was a <c>LISTEN</c> or <c>SELECT 1</c>: the polling relay's
/// listener pings with <c>SELECT 1</c> after 30 s without a notification (no other statement of the library is that one).
/// <see cref="MedianIdleSeconds"/> and <see cref="MaxIdleSeconds"/>: per database, the time since its latest statement
/// started, over the databases (a database polled every second stays under about a second).
/// </summary>
internal sealed record FleetConnectionCounts(
    long Total, long Idle, long Active, long IdleInTransaction, long Listening, long Databases, long MostInOneDatabase, double MedianIdleSeconds, double MaxIdleSeconds)
{
    private const string Sql = """
        WITH per_db AS (
            SELECT datname AS d, count(*) AS per_database, extract(epoch FROM now() - max(query_start))::float8 AS idle_s
            FROM pg_stat_activity WHERE application_name = $1 GROUP BY datname)
        SELECT count(*),
               count(*) FILTER (WHERE state = 'idle'),
               count(*) FILTER (WHERE state = 'active'),
               count(*) FILTER (WHERE state LIKE 'idle in transaction%'),
               count(*) FILTER (WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1'),
               count(DISTINCT datname),
               coalesce(max(per_database), 0),
               (SELECT coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY idle_s), 0) FROM per_db),
               (SELECT coalesce(max(idle_s), 0) FROM per_db)
        FROM pg_stat_activity a
        LEFT JOIN per_db p ON p.d = a.datname
        WHERE a.application_name = $1
        """;

    private const string ByStatementSql = """
        SELECT state, left(regexp_replace(query, '\s+', ' ', 'g'), 70), count(*)
        FROM pg_stat_activity WHERE application_name = $1
        GROUP BY 1, 2 ORDER BY 3 DESC LIMIT $2
        """;

    public static async Task<FleetConnectionCounts> ReadAsync(string adminConnectionString, string applicationName, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(Sql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = applicationName });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new FleetConnectionCounts(
            reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetDouble(7), reader.GetDouble(8));
    }

    /// <summary>The most frequent (state, last statement) pairs: what the held connections did last.</summary>
    public static async Task<IReadOnlyList<string>> ByStatementAsync(string adminConnectionString, string applicationName, int count, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(ByStatementSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = applicationName });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var lines = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add($"{reader.GetInt64(2)} x {(reader.IsDBNull(0) ? "(no state)" : reader.GetString(0))}: {(reader.IsDBNull(1) ? "" : reader.GetString(1))}");
        }

        return lines;
    }
}
