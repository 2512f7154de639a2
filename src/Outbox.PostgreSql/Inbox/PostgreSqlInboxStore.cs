using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Outbox.Providers;

namespace Outbox.PostgreSql.Inbox;

/// <summary>
/// The inbox tables in PostgreSQL, written on the consumer's <see cref="DbContext"/> connection and current
/// transaction, so that they commit with the handler's changes.
/// </summary>
internal sealed class PostgreSqlInboxStore(OutboxOptions options) : IInboxStore
{
    private readonly InboxSql _sql = new(options);

    public async Task<IReadOnlySet<string>> AddAsync(DbContext context, InboxPosition position, IReadOnlyList<InboxEntry> entries, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(entries);
        var (connection, transaction) = CurrentTransaction(context);
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch.ConfigureAwait(false))
        {
            if (entries.Count > 0)
            {
                var ids = new string[entries.Count];
                var offsets = new long[entries.Count];
                for (var i = 0; i < entries.Count; i++)
                {
                    ids[i] = entries[i].MessageId;
                    offsets[i] = entries[i].Offset;
                }

                var insert = new NpgsqlBatchCommand(_sql.InsertMessages);
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = position.ConsumerGroup });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = position.Topic });
                insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = position.Partition });
                insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
                insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                insert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = offsets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
                batch.BatchCommands.Add(insert);
            }

            batch.BatchCommands.Add(CreateUpsertOffset(position, now));

            var inserted = new HashSet<string>(StringComparer.Ordinal);
            var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (entries.Count > 0)
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        inserted.Add(reader.GetString(0));
                    }
                }
            }

            return inserted;
        }
    }

    public async Task SaveOffsetAsync(DbContext context, InboxPosition position, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (connection, transaction) = Current(context);
            var batch = new NpgsqlBatch(connection, transaction);
            await using (batch.ConfigureAwait(false))
            {
                batch.BatchCommands.Add(CreateUpsertOffset(position, now));
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    public IReadOnlyDictionary<(string Topic, int Partition), long> ReadOffsets(DbContext context, string consumerGroup, IReadOnlyCollection<string> topics)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(topics);
        var result = new Dictionary<(string Topic, int Partition), long>();
        context.Database.OpenConnection();
        try
        {
            var (connection, transaction) = Current(context);
            using var command = new NpgsqlCommand(_sql.SelectOffsets, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumerGroup });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. topics], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                result[(reader.GetString(0), reader.GetInt32(1))] = reader.GetInt64(2);
            }
        }
        finally
        {
            context.Database.CloseConnection();
        }

        return result;
    }

    public async Task<int> DeleteHandledBeforeAsync(DbContext context, string consumerGroup, DateTimeOffset cutoff, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (connection, transaction) = Current(context);
            var command = new NpgsqlCommand(_sql.DeleteHandledBefore, connection, transaction);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumerGroup });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = cutoff });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
                return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    public async Task ParkAsync(DbContext context, string consumerGroup, ParkedRecord record, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(record);
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Without a transaction of the context, the batch is one implicit transaction: the row and the offset commit together.
            var (connection, transaction) = Current(context);
            var batch = new NpgsqlBatch(connection, transaction);
            await using (batch.ConfigureAwait(false))
            {
                var insert = new NpgsqlBatchCommand(_sql.InsertParked);
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = consumerGroup });
                ParkedRows.AddColumns(insert.Parameters, record);
                batch.BatchCommands.Add(insert);
                batch.BatchCommands.Add(CreateUpsertOffset(new InboxPosition(consumerGroup, record.Record.Topic, record.Record.Partition, record.Record.Offset + 1), now));
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    public IReadOnlyList<InboxParkedKey> ReadParkedKeys(DbContext context, string consumerGroup, string topic, int partition)
    {
        ArgumentNullException.ThrowIfNull(context);
        var keys = new List<InboxParkedKey>();
        context.Database.OpenConnection();
        try
        {
            var (connection, transaction) = Current(context);
            using var command = new NpgsqlCommand(_sql.SelectParkedKeys, connection, transaction);
            AddPartition(command.Parameters, consumerGroup, topic, partition);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                keys.Add(new InboxParkedKey(reader.IsDBNull(0) ? null : reader.GetFieldValue<byte[]>(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetBoolean(2)));
            }
        }
        finally
        {
            context.Database.CloseConnection();
        }

        return keys;
    }

    public async Task<IReadOnlyList<ParkedRecord>> ReadReplayRequestsAsync(DbContext context, string consumerGroup, string topic, int partition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rows = new List<ParkedRecord>();
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (connection, transaction) = Current(context);
            var command = new NpgsqlCommand(_sql.SelectReplayRequests, connection, transaction);
            await using (command.ConfigureAwait(false))
            {
                AddPartition(command.Parameters, consumerGroup, topic, partition);
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        rows.Add(ParkedRows.Read(reader));
                    }
                }
            }
        }
        finally
        {
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }

        return rows;
    }

    public async Task RemoveParkedAsync(DbContext context, string consumerGroup, string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (connection, transaction) = Current(context);
            var command = new NpgsqlCommand(_sql.DeleteParked, connection, transaction);
            await using (command.ConfigureAwait(false))
            {
                AddPartition(command.Parameters, consumerGroup, topic, partition);
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = offset });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    public async Task ReparkAsync(DbContext context, string consumerGroup, ParkedRecord record, bool endKeyReplay, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(record);
        var r = record.Record;
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (connection, transaction) = Current(context);
            var batch = new NpgsqlBatch(connection, transaction);
            await using (batch.ConfigureAwait(false))
            {
                var update = new NpgsqlBatchCommand(_sql.Repark);
                AddPartition(update.Parameters, consumerGroup, r.Topic, r.Partition);
                update.Parameters.Add(new NpgsqlParameter<long> { TypedValue = r.Offset });
                update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = record.State });
                update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = record.Reason });
                update.Parameters.Add(ParkedRows.Text(record.ErrorType));
                update.Parameters.Add(ParkedRows.Text(record.Error));
                update.Parameters.Add(new NpgsqlParameter<int> { TypedValue = record.Attempts });
                update.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
                batch.BatchCommands.Add(update);
                if (endKeyReplay && r.Key is not null)
                {
                    var end = new NpgsqlBatchCommand(_sql.EndKeyReplay);
                    AddPartition(end.Parameters, consumerGroup, r.Topic, r.Partition);
                    end.Parameters.Add(ParkedRows.Bytes(r.Key));
                    batch.BatchCommands.Add(end);
                }

                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    private static void AddPartition(NpgsqlParameterCollection parameters, string consumerGroup, string topic, int partition)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = consumerGroup });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
    }

    private NpgsqlBatchCommand CreateUpsertOffset(InboxPosition position, DateTimeOffset now)
    {
        var upsert = new NpgsqlBatchCommand(_sql.UpsertOffset);
        upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = position.ConsumerGroup });
        upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = position.Topic });
        upsert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = position.Partition });
        upsert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = position.NextOffset });
        upsert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        return upsert;
    }

    private static (NpgsqlConnection Connection, NpgsqlTransaction Transaction) CurrentTransaction(DbContext context)
    {
        var (connection, transaction) = Current(context);
        return transaction is null
            ? throw new InvalidOperationException("The inbox writes in the consumer's transaction, but the DbContext has none open.")
            : (connection, transaction);
    }

    private static (NpgsqlConnection Connection, NpgsqlTransaction? Transaction) Current(DbContext context)
    {
        if (context.Database.GetDbConnection() is not NpgsqlConnection connection)
        {
            throw new OutboxConfigurationException(
                $"The inbox store of Outbox.PostgreSql needs a DbContext on PostgreSQL (UseNpgsql); {context.GetType().Name} uses {context.Database.GetDbConnection().GetType().Name}.");
        }

        return (connection, context.Database.CurrentTransaction?.GetDbTransaction() as NpgsqlTransaction);
    }
}
