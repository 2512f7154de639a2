using Npgsql;
using NpgsqlTypes;

namespace Outbox.Benchmarks.Macro;

/// <summary>Rows of the outbox shape built ahead of time (not timed), and the raw binary COPY that writes them.</summary>
internal static class RawRows
{
    public static OutboxMessage[] Build(Workload workload, OutboxOptions options)
    {
        var factory = new OutboxMessageFactory(new OutboxEventRegistry(options.Mappings), options, TimeProvider.System);
        var rows = new OutboxMessage[workload.Messages];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = factory.Create(workload.Event(i));
        }

        return rows;
    }

    /// <summary>Writes rows with one binary COPY (its own transaction when none is open).</summary>
    public static async Task CopyAsync(NpgsqlConnection connection, string table, IReadOnlyList<OutboxMessage> rows, int start, int count, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync(RawSql.CopyInto(table), cancellationToken);
        for (var i = start; i < start + count; i++)
        {
            var m = rows[i];
            await importer.StartRowAsync(cancellationToken);
            await importer.WriteAsync(m.Id, NpgsqlDbType.Uuid, cancellationToken);
            await importer.WriteAsync(m.AggregateType, NpgsqlDbType.Text, cancellationToken);
            await importer.WriteAsync(m.AggregateId, NpgsqlDbType.Text, cancellationToken);
            await importer.WriteAsync(m.Type, NpgsqlDbType.Text, cancellationToken);
            await importer.WriteAsync(m.Payload, NpgsqlDbType.Jsonb, cancellationToken);
            await importer.WriteAsync(m.Lane, NpgsqlDbType.Integer, cancellationToken);
            await importer.WriteAsync(m.CreatedAt, NpgsqlDbType.TimestampTz, cancellationToken);
            await importer.WriteNullAsync(cancellationToken);
            await importer.WriteNullAsync(cancellationToken);
            await importer.WriteAsync(0, NpgsqlDbType.Integer, cancellationToken);
        }

        await importer.CompleteAsync(cancellationToken);
    }

    /// <summary>The rows of each writer (by account, as <see cref="Workload.IndexesOf"/>), cut in transactions of <paramref name="batch"/> rows.</summary>
    public static List<OutboxMessage[]>[] Partition(Workload workload, OutboxMessage[] rows, int writers, int batch)
    {
        var result = new List<OutboxMessage[]>[writers];
        for (var w = 0; w < writers; w++)
        {
            result[w] = workload.IndexesOf(w, writers).Select(i => rows[i]).Chunk(batch).ToList();
        }

        return result;
    }

    public static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.CommandTimeout = 600;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
