using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Outbox.IntegrationTests.Conformance;

/// <summary>
/// The rows every relay must turn into the same Kafka records: several aggregate types, unicode keys and type names,
/// JSON that jsonb normalizes, a payload large enough to be TOASTed, and rows with full, partial and no trace context.
/// </summary>
public static class ConformanceRows
{
    public const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    public const string TraceState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    public static readonly string[] AggregateTypes = ["order", "customer", "payment.v2", "ship-ment_x"];

    public static IReadOnlyList<ConformanceRow> Create()
    {
        string[] keys = ["order-1", "κλειδί-42", "ключ", "鍵🔑", "a b\tc", "k" + new string('z', 200)];
        string[] types = ["OrderPlaced", "Kundenänderung", "payment.captured.v2", "Größe"];
        var large = "{\"blob\": \"" + string.Concat(Enumerable.Repeat("0123456789abcdefé", 20_000)) + "\", \"n\": 1}";
        var rows = new List<ConformanceRow>();
        for (var i = 0; i < 48; i++)
        {
            var payload = (i % 6) switch
            {
                0 => $"{{\"i\":{i},\"text\":\"héllo \\\"quoted\\\" back\\\\slash \\n newline\",\"n\":1.50,\"big\":12345678901234567890}}",
                1 => $"{{ \"z\" : [1, 2, {{\"a\": null}}], \"a\" : \"{i}\" , \"emoji\":\"😀\", \"esc\":\"\\u00e9\\u0000x\"}}".Replace("\\u0000", "\\u0001", StringComparison.Ordinal),
                2 => i == 14 ? large : $"[{i}, true, false, null, \"x\"]",
                3 => $"\"just a string {i}\"",
                4 => $"{{\"nested\":{{\"deep\":{{\"deeper\":[{i},1e3,-0.0,2.5E-3]}}}}}}",
                _ => "{}",
            };
            rows.Add(new ConformanceRow(
                Guid.CreateVersion7(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + i)),
                AggregateTypes[i % AggregateTypes.Length],
                keys[i % keys.Length],
                types[(i / 3) % types.Length],
                payload,
                (i % 3) switch { 0 => null, 1 => TraceParent, _ => TraceParent },
                (i % 3) switch { 0 => null, 1 => null, _ => TraceState },
                Transaction: i / 5));
        }

        return rows;
    }

    /// <summary>Writes the rows, one transaction per <see cref="ConformanceRow.Transaction"/> group, in order.</summary>
    public static async Task WriteAsync(NpgsqlDataSource dataSource, IReadOnlyList<ConformanceRow> rows, int laneCount)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        foreach (var group in rows.GroupBy(r => r.Transaction))
        {
            await using var transaction = await connection.BeginTransactionAsync();
            foreach (var row in group)
            {
                await using var command = new NpgsqlCommand(
                    """
                    INSERT INTO outbox.messages (id, aggregatetype, aggregateid, type, payload, lane, created_at, traceparent, tracestate, attempts)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)
                    """,
                    connection,
                    transaction);
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = row.Id });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.AggregateType });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.AggregateId });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Type });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Payload, NpgsqlDbType = NpgsqlDbType.Jsonb });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = LaneHash.Compute(row.AggregateId, laneCount) });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000) });
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)row.TraceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)row.TraceState ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
                await command.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
        }
    }

    /// <summary>The payload as PostgreSQL renders the jsonb value: the bytes every relay must send.</summary>
    public static async Task<Dictionary<Guid, byte[]>> RenderPayloadsAsync(NpgsqlDataSource dataSource, IReadOnlyList<ConformanceRow> rows)
    {
        var rendered = new Dictionary<Guid, byte[]>();
        await using var command = dataSource.CreateCommand("SELECT $1::jsonb::text");
        var parameter = new NpgsqlParameter<string>();
        command.Parameters.Add(parameter);
        foreach (var row in rows)
        {
            parameter.TypedValue = row.Payload;
            rendered[row.Id] = Encoding.UTF8.GetBytes((string)(await command.ExecuteScalarAsync())!);
        }

        return rendered;
    }
}
