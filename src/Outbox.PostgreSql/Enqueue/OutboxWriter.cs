using Npgsql;
using NpgsqlTypes;
using Outbox.Providers;

namespace Outbox.PostgreSql;

/// <summary>
/// Writes events to the outbox from code that uses ADO.NET or Dapper instead of EF Core: pass the connection and
/// transaction of the business change, and the rows commit (or roll back) with it. Obtain it from DI after
/// <c>UsePostgreSql(...)</c>.
/// </summary>
public sealed class OutboxWriter
{
    private readonly OutboxRowFactory _rows;
    private readonly string _insertSql;
    private readonly string _copySql;

    internal OutboxWriter(OutboxRowFactory rows)
    {
        _rows = rows;
        var names = new OutboxTableNames(rows.Options);
        _insertSql = $"INSERT INTO {names.Messages} ({OutboxRows.WriteColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)";
        _copySql = $"COPY {names.Messages} ({OutboxRows.WriteColumns}) FROM STDIN (FORMAT BINARY)";
    }

    /// <summary>Writes one event in the given transaction.</summary>
    /// <param name="connection">An open connection.</param>
    /// <param name="transaction">The transaction of the business change; without one the row commits on its own.</param>
    /// <param name="evt">The event; its type must be mapped.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The event id.</returns>
    /// <exception cref="UnmappedEventException">The event's type is not mapped.</exception>
    /// <exception cref="PayloadTooLargeException">The payload is over <see cref="OutboxOptions.MaxPayloadBytes"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="transaction"/> belongs to another connection or has already
    /// ended (committed or rolled back); nothing was written.</exception>
    public async Task<Guid> EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, object evt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(evt);
        CheckTransaction(connection, transaction);
        using var activity = OutboxRowFactory.StartEnqueue(nameof(OutboxWriter), 1);
        var message = _rows.Create(evt);
        var command = new NpgsqlCommand(_insertSql, connection, transaction);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = message.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.AggregateType });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.AggregateId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Type });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Payload, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = message.Lane });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = message.CreatedAt });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)message.TraceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)message.TraceState ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        _rows.Written([message]);
        return message.Id;
    }

    /// <summary>Writes many events in the given transaction with one binary <c>COPY</c>, in the order given.</summary>
    /// <param name="connection">An open connection.</param>
    /// <param name="transaction">The transaction of the business change; without one the batch commits on its own (atomically).</param>
    /// <param name="events">The events; every type must be mapped.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The event ids, in the order of <paramref name="events"/>.</returns>
    /// <exception cref="UnmappedEventException">An event's type is not mapped; nothing was written.</exception>
    /// <exception cref="PayloadTooLargeException">A payload is over the limit; nothing was written.</exception>
    /// <exception cref="ArgumentException"><paramref name="transaction"/> belongs to another connection or has already
    /// ended (committed or rolled back); nothing was written.</exception>
    public async Task<IReadOnlyList<Guid>> EnqueueBatchAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IEnumerable<object> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(events);
        CheckTransaction(connection, transaction);

        // Build every row before writing so that a bad event leaves the database untouched.
        var list = events as IReadOnlyCollection<object> ?? [.. events];
        using var activity = OutboxRowFactory.StartEnqueue(nameof(OutboxWriter), list.Count);
        var messages = list.Select(_rows.Create).ToList();
        if (messages.Count == 0)
        {
            return [];
        }

        // COPY has no transaction of its own: it runs in the connection's current one, which CheckTransaction made sure
        // is the given transaction.
        var importer = await connection.BeginBinaryImportAsync(_copySql, cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var m in messages)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(m.Id, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(m.AggregateType, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(m.AggregateId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(m.Type, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(m.Payload, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(m.Lane, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(m.CreatedAt, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                await WriteNullableTextAsync(importer, m.TraceParent, cancellationToken).ConfigureAwait(false);
                await WriteNullableTextAsync(importer, m.TraceState, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(0, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        _rows.Written(messages);

        return messages.ConvertAll(m => m.Id);
    }

    // The rows must commit with the business change: a transaction of another connection, or one that has ended, would
    // make them commit on their own (COPY in particular runs in whatever transaction the connection has).
    private static void CheckTransaction(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        if (transaction is null)
        {
            return;
        }

        if (HasCompleted(transaction))
        {
            throw new ArgumentException(
                "The transaction has already been committed or rolled back: the events would not commit with your changes. " +
                "Pass the open transaction of the business change.", nameof(transaction));
        }

        if (!ReferenceEquals(transaction.Connection, connection))
        {
            throw new ArgumentException(
                "The transaction belongs to another connection than the one given: the events would not commit with your changes. " +
                "Pass the connection the transaction was begun on.", nameof(transaction));
        }
    }

    private static bool HasCompleted(NpgsqlTransaction transaction)
    {
        if (transaction.Connection is null)
        {
            return true;
        }

        try
        {
            // Npgsql keeps Connection on a completed transaction (it reuses the object for the connection's next one);
            // its IsolationLevel getter throws once the transaction has completed.
            _ = transaction.IsolationLevel;
            return false;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private static Task WriteNullableTextAsync(NpgsqlBinaryImporter importer, string? value, CancellationToken cancellationToken) =>
        value is null
            ? importer.WriteNullAsync(cancellationToken)
            : importer.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);
}
