using Npgsql;
using NpgsqlTypes;
using Outbox.Relay;

namespace Outbox.PostgreSql;

/// <summary>
/// Parked keys in PostgreSQL: records failures of a key (both relays), releases keys (operators; the CDC relay's due
/// retries), and reads them (operators, health, metrics). SQL in <see cref="ParkingSql"/>.
/// </summary>
internal sealed class ParkingStore(NpgsqlDataSource dataSource, OutboxOptions options) : IKeyFailureStore
{
    private readonly ParkingSql _sql = new(options);

    public ParkingSql Sql => _sql;

    /// <summary>Adds parameters $1-$9 of <see cref="ParkingSql.Fail"/>.</summary>
    public static void AddFailParameters(NpgsqlBatchCommand command, KeyFailure failure, KeyRetryPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(command);
        AddFailParameters(command.Parameters, failure, policy);
    }

    public static KeyFailureOutcome ReadOutcome(NpgsqlDataReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new KeyFailureOutcome(reader.GetInt32(0), reader.GetBoolean(1), TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(2))));
    }

    /// <summary>Records a failure of a key (the CDC relay: no lease to fence, the slot is its lock).</summary>
    public async Task<KeyFailureOutcome> FailAsync(KeyFailure failure, KeyRetryPolicy policy, CancellationToken cancellationToken)
    {
        var command = dataSource.CreateCommand(_sql.Fail);
        await using (command.ConfigureAwait(false))
        {
            AddFailParameters(command.Parameters, failure, policy);
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                return ReadOutcome(reader);
            }
        }
    }

    /// <summary>
    /// Releases a held key in one transaction: locks the outbox table against writers (SHARE ROW EXCLUSIVE, briefly),
    /// marks the key released at the current WAL position, optionally moves its parked event to the dead letters
    /// (<paramref name="discard"/>), and inserts its waiting events again in their order (see <see cref="ParkingSql"/>).
    /// </summary>
    /// <param name="aggregateType">The key's aggregate type.</param>
    /// <param name="aggregateId">The key's aggregate id.</param>
    /// <param name="operatorRelease">An operator's replay or discard (any held state, attempts reset); otherwise a
    /// relay's release of a key whose retry is due (attempts kept, nothing done unless due).</param>
    /// <param name="discard">Whether the key's failed event is moved to the dead-letter table instead of being replayed.</param>
    /// <param name="cancellationToken">Cancels the release; nothing changes then.</param>
    /// <returns>The number of events inserted again, or <see langword="null"/> when the key was not held (or not due).</returns>
    public async Task<int?> ReleaseAsync(string aggregateType, string aggregateId, bool operatorRelease, bool discard, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await ExecuteAsync(connection, transaction, _sql.LockMessages, cancellationToken).ConfigureAwait(false);
                Guid head;
                int lane;
                int attempts;
                string? lastError;
                var mark = new NpgsqlCommand(_sql.MarkReleased, connection, transaction);
                await using (mark.ConfigureAwait(false))
                {
                    mark.Parameters.Add(new NpgsqlParameter<string> { TypedValue = aggregateType });
                    mark.Parameters.Add(new NpgsqlParameter<string> { TypedValue = aggregateId });
                    mark.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = operatorRelease });
                    mark.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = operatorRelease });
                    var reader = await mark.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            return null;
                        }

                        head = reader.GetGuid(0);
                        lane = reader.GetInt32(1);
                        attempts = reader.GetInt32(2);
                        lastError = reader.IsDBNull(3) ? null : reader.GetString(3);
                    }
                }

                if (discard)
                {
                    var move = new NpgsqlCommand(_sql.DiscardHead, connection, transaction);
                    await using (move.ConfigureAwait(false))
                    {
                        move.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = head });
                        move.Parameters.Add(new NpgsqlParameter<int> { TypedValue = attempts });
                        move.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "Discarded by an operator: " + (lastError ?? "parked") });
                        await move.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                }

                int reinserted;
                var again = new NpgsqlCommand(_sql.Reinsert, connection, transaction);
                await using (again.ConfigureAwait(false))
                {
                    again.Parameters.Add(new NpgsqlParameter<string> { TypedValue = aggregateType });
                    again.Parameters.Add(new NpgsqlParameter<string> { TypedValue = aggregateId });
                    reinserted = await again.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                var notify = new NpgsqlCommand(_sql.Notify, connection, transaction);
                await using (notify.ConfigureAwait(false))
                {
                    notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sql.Channel });
                    notify.Parameters.Add(new NpgsqlParameter<int> { TypedValue = lane });
                    await notify.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return reinserted;
            }
        }
    }

    /// <summary>Held keys, oldest first.</summary>
    /// <param name="limit">The most keys returned.</param>
    /// <param name="includeRetrying">Whether keys waiting for an automatic retry are listed too (not only parked ones).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public async Task<List<ParkedKey>> ListAsync(int limit, bool includeRetrying, CancellationToken cancellationToken)
    {
        var command = dataSource.CreateCommand(_sql.List);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = includeRetrying });
            return await ReadKeysAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<ParkedKey?> GetAsync(string aggregateType, string aggregateId, CancellationToken cancellationToken)
    {
        var command = dataSource.CreateCommand(_sql.Get);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = aggregateType });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = aggregateId });
            var keys = await ReadKeysAsync(command, cancellationToken).ConfigureAwait(false);
            return keys.Count == 0 ? null : keys[0];
        }
    }

    private static void AddFailParameters(NpgsqlParameterCollection parameters, KeyFailure failure, KeyRetryPolicy policy)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = failure.Message.AggregateType });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = failure.Message.AggregateId });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = failure.Message.Lane });
        parameters.Add(new NpgsqlParameter<Guid> { TypedValue = failure.Message.Id });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = failure.Error });
        parameters.Add(new NpgsqlParameter<bool> { TypedValue = failure.Permanent });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = policy.MaxAttempts });
        parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = policy.BaseDelay, NpgsqlDbType = NpgsqlDbType.Interval });
        parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = policy.MaxDelay, NpgsqlDbType = NpgsqlDbType.Interval });
    }

    private static async Task<List<ParkedKey>> ReadKeysAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var keys = new List<ParkedKey>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var parkedAt = reader.IsDBNull(7) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(7);
                keys.Add(new ParkedKey
                {
                    AggregateType = reader.GetString(0),
                    AggregateId = reader.GetString(1),
                    Lane = reader.GetInt32(2),
                    MessageId = reader.GetGuid(3),
                    Attempts = reader.GetInt32(4),
                    LastError = reader.IsDBNull(5) ? null : reader.GetString(5),
                    RetryAt = reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
                    ParkedAt = parkedAt,
                    State = parkedAt is null ? ParkedKeyState.Retrying : ParkedKeyState.Parked,
                    UpdatedAt = reader.GetFieldValue<DateTimeOffset>(8),
                    WaitingEvents = reader.GetInt32(9),
                    MessageType = reader.IsDBNull(10) ? null : reader.GetString(10),
                });
            }
        }

        return keys;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
