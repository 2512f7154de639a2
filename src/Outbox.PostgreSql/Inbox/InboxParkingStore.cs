using Outbox.Providers;
using Npgsql;
using NpgsqlTypes;

namespace Outbox.PostgreSql.Inbox;

/// <summary>
/// The operator's side of the inbox's parked table: list, show, ask for a replay, discard. A replay is a request: the
/// worker that owns the partition picks it up between batches (within <c>InboxConsumerOptions.ParkedCheckInterval</c>) and
/// handles the key's records in offset order. Every SQL statement of these operations lives here; values are parameters.
/// </summary>
internal sealed class InboxParkingStore(NpgsqlDataSource dataSource, OutboxOptions options, TimeProvider timeProvider)
{
    private readonly OutboxTableNames _names = new(options);

    public async Task<IReadOnlyList<ParkedInboxKey>> ListAsync(string? consumerGroup, int limit, CancellationToken cancellationToken)
    {
        var sql = $"""
            WITH k AS (
                SELECT consumer_group, topic, partition, record_key, count(*) AS n, bool_or(replay_requested_at IS NOT NULL) AS replaying
                FROM {_names.InboxParked} WHERE ($1::text IS NULL OR consumer_group = $1)
                GROUP BY consumer_group, topic, partition, record_key)
            SELECT * FROM (
                SELECT DISTINCT ON (p.consumer_group, p.topic, p.partition, p.record_key)
                    p.consumer_group, p.topic, p.partition, p.record_key, p."offset", p.state, p.message_id, p.type, p.reason,
                    p.error, p.attempts, p.parked_at, k.n - 1, k.replaying
                FROM {_names.InboxParked} p
                JOIN k ON k.consumer_group = p.consumer_group AND k.topic = p.topic AND k.partition = p.partition
                      AND k.record_key IS NOT DISTINCT FROM p.record_key
                WHERE ($1::text IS NULL OR p.consumer_group = $1)
                ORDER BY p.consumer_group, p.topic, p.partition, p.record_key, p."offset") heads
            ORDER BY parked_at, consumer_group, topic, partition, "offset"
            LIMIT $2
            """;
        var keys = new List<ParkedInboxKey>();
        var command = dataSource.CreateCommand(sql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)consumerGroup ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    keys.Add(new ParkedInboxKey
                    {
                        ConsumerGroup = reader.GetString(0),
                        Topic = reader.GetString(1),
                        Partition = reader.GetInt32(2),
                        Key = ParkedKeyText.Format(reader.IsDBNull(3) ? null : reader.GetFieldValue<byte[]>(3)),
                        HeadOffset = reader.GetInt64(4),
                        HeadState = State(reader.GetString(5)),
                        MessageId = reader.IsDBNull(6) ? null : reader.GetString(6),
                        Type = reader.IsDBNull(7) ? null : reader.GetString(7),
                        Reason = reader.GetString(8),
                        Error = reader.IsDBNull(9) ? null : reader.GetString(9),
                        Attempts = reader.GetInt32(10),
                        ParkedAt = reader.GetFieldValue<DateTimeOffset>(11),
                        HeldCount = reader.GetInt64(12),
                        ReplayRequested = reader.GetBoolean(13),
                    });
                }
            }
        }

        return keys;
    }

    public async Task<IReadOnlyList<ParkedInboxRecord>> GetAsync(string consumerGroup, string topic, int partition, byte[]? key, CancellationToken cancellationToken)
    {
        var sql = $"""
            SELECT {new InboxSql(options).ParkedColumns} FROM {_names.InboxParked}
            WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND record_key IS NOT DISTINCT FROM $4
            ORDER BY "offset"
            """;
        var records = new List<ParkedInboxRecord>();
        var command = dataSource.CreateCommand(sql);
        await using (command.ConfigureAwait(false))
        {
            AddKey(command.Parameters, consumerGroup, topic, partition, key);
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var row = ParkedRows.Read(reader);
                    records.Add(new ParkedInboxRecord
                    {
                        Offset = row.Record.Offset,
                        State = State(row.State),
                        MessageId = reader.IsDBNull(4) ? null : reader.GetString(4),
                        Type = reader.IsDBNull(5) ? null : reader.GetString(5),
                        Value = ParkedKeyText.Format(row.Record.Value),
                        Reason = row.Reason,
                        ErrorType = row.ErrorType,
                        Error = row.Error,
                        Attempts = row.Attempts,
                        ParkedAt = row.ParkedAt,
                    });
                }
            }
        }

        return records;
    }

    public async Task<bool> ReplayAsync(string consumerGroup, string topic, int partition, byte[]? key, CancellationToken cancellationToken)
    {
        var sql = $"""
            UPDATE {_names.InboxParked} SET replay_requested_at = $5
            WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND record_key IS NOT DISTINCT FROM $4
            """;
        var command = dataSource.CreateCommand(sql);
        await using (command.ConfigureAwait(false))
        {
            AddKey(command.Parameters, consumerGroup, topic, partition, key);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = timeProvider.GetUtcNow() });
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }
    }

    public async Task<bool> DiscardAsync(string consumerGroup, string topic, int partition, byte[]? key, CancellationToken cancellationToken)
    {
        // The first row of the key is deleted; the rest of the key (held records) is asked to replay, in one statement.
        var sql = $"""
            WITH head AS (
                SELECT "offset" FROM {_names.InboxParked}
                WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND record_key IS NOT DISTINCT FROM $4
                ORDER BY "offset" LIMIT 1 FOR UPDATE),
            gone AS (
                DELETE FROM {_names.InboxParked} p USING head
                WHERE p.consumer_group = $1 AND p.topic = $2 AND p.partition = $3 AND p."offset" = head."offset"
                RETURNING p."offset"),
            rest AS (
                UPDATE {_names.InboxParked} SET replay_requested_at = $5
                WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND record_key = $4
                  AND "offset" > (SELECT "offset" FROM head))
            SELECT count(*) FROM gone
            """;
        var command = dataSource.CreateCommand(sql);
        await using (command.ConfigureAwait(false))
        {
            AddKey(command.Parameters, consumerGroup, topic, partition, key);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = timeProvider.GetUtcNow() });
            return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
        }
    }

    private static void AddKey(NpgsqlParameterCollection parameters, string consumerGroup, string topic, int partition, byte[]? key)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = consumerGroup });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = topic });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = partition });
        parameters.Add(ParkedRows.Bytes(key));
    }

    private static ParkedInboxRecordState State(string state) => state switch
    {
        ParkedState.Parked => ParkedInboxRecordState.Parked,
        ParkedState.Held => ParkedInboxRecordState.Held,
        _ => ParkedInboxRecordState.DeadLetter,
    };
}
