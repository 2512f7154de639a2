using Npgsql;
using Outbox.PostgreSql.Cdc;
using Outbox.PostgreSql.Replication;

namespace Outbox.PostgreSql;

/// <summary>
/// Operator queries and repairs on the outbox tables (used by the <c>dotnet outbox</c> CLI and health checks):
/// status, and dead-letter list/show/replay/purge. All SQL of these operations lives here.
/// </summary>
/// <param name="dataSource">The data source of the database that holds the outbox tables.</param>
/// <param name="options">The outbox options (schema and table names).</param>
/// <param name="timeProvider">The clock that ages pending rows.</param>
public sealed class OutboxAdministration(NpgsqlDataSource dataSource, OutboxOptions options, TimeProvider timeProvider)
{
    /// <summary>The most pending rows counted per lane by <see cref="GetStatusAsync"/> (a larger backlog shows as "at least").</summary>
    public const int LaneCountCap = 10_000;

    private readonly OutboxTableNames _names = new(options);

    /// <summary>Reads a snapshot of the outbox: pending rows per lane, leases, dead letters, CDC slots and inboxes.</summary>
    /// <param name="cancellationToken">Cancels the queries.</param>
    /// <returns>The snapshot.</returns>
    public async Task<OutboxStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var now = timeProvider.GetUtcNow();
            var lanes = new Dictionary<int, LaneStatus>();
            var leaseSql = $"SELECT lane, owner, epoch, lease_expires_at FROM {_names.Lanes} ORDER BY lane";
            await foreach (var r in QueryAsync(connection, leaseSql, cancellationToken).ConfigureAwait(false))
            {
                var lane = r.GetInt32(0);
                lanes[lane] = new LaneStatus(lane, 0, null, r.IsDBNull(1) ? null : r.GetString(1), r.GetInt64(2), r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3));
            }

            // Bounded work on a large table: per lane, at most LaneCountCap + 1 rows through the (lane, commit_seq) index.
            var pendingSql = $"""
                SELECT l.lane, c.n, c.oldest
                FROM (SELECT lane FROM {_names.Lanes} UNION SELECT generate_series(0, $1 - 1)) AS l(lane)
                CROSS JOIN LATERAL (
                    SELECT count(*) AS n, min(x.created_at) AS oldest
                    FROM (SELECT m.created_at FROM {_names.Messages} m WHERE m.lane = l.lane AND m.published_at IS NULL LIMIT {LaneCountCap + 1}) x) c
                WHERE c.n > 0
                """;
            long pending = 0;
            var capped = false;
            DateTimeOffset? oldest = null;
            await foreach (var r in QueryAsync(connection, pendingSql, cancellationToken, new NpgsqlParameter<int> { TypedValue = options.LaneCount }).ConfigureAwait(false))
            {
                var lane = r.GetInt32(0);
                var count = r.GetInt64(1);
                capped |= count > LaneCountCap;
                var laneOldest = r.GetFieldValue<DateTimeOffset>(2);
                pending += count;
                oldest = oldest is null || laneOldest < oldest ? laneOldest : oldest;
                lanes[lane] = (lanes.TryGetValue(lane, out var existing) ? existing : new LaneStatus(lane, 0, null, null, 0, null))
                    with { Pending = count, OldestPendingAge = now - laneOldest };
            }

            long deadLetters = 0;
            await foreach (var r in QueryAsync(connection, $"SELECT count(*) FROM {_names.DeadLetters}", cancellationToken).ConfigureAwait(false))
            {
                deadLetters = r.GetInt64(0);
            }

            long parkedKeys = 0;
            long retryingKeys = 0;
            await foreach (var r in QueryAsync(connection, new ParkingSql(options).Summary, cancellationToken).ConfigureAwait(false))
            {
                parkedKeys = r.GetInt64(0);
                retryingKeys = r.GetInt64(1);
            }

            var slots = new List<CdcSlotStatus>();
            const string slotSql = """
                SELECT slot_name, active, active_pid, wal_status,
                       pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
                       pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
                       confirmed_flush_lsn::text, restart_lsn::text, safe_wal_size
                FROM pg_replication_slots WHERE slot_type = 'logical' AND database = current_database() ORDER BY slot_name
                """;
            await foreach (var r in QueryAsync(connection, slotSql, cancellationToken).ConfigureAwait(false))
            {
                slots.Add(new CdcSlotStatus
                {
                    SlotName = r.GetString(0),
                    Exists = true,
                    IsActive = r.GetBoolean(1),
                    ActivePid = r.IsDBNull(2) ? null : r.GetInt32(2),
                    WalStatus = r.IsDBNull(3) ? null : r.GetString(3),
                    LagBytes = r.IsDBNull(4) ? null : r.GetInt64(4),
                    RetainedWalBytes = r.IsDBNull(5) ? null : r.GetInt64(5),
                    ConfirmedFlushLsn = r.IsDBNull(6) ? null : r.GetString(6),
                    RestartLsn = r.IsDBNull(7) ? null : r.GetString(7),
                    SafeWalSizeBytes = r.IsDBNull(8) ? null : r.GetInt64(8),
                });
            }

            var inboxes = new List<InboxStatus>();
            var inboxSql = $"""
                SELECT g.consumer_group, coalesce(i.handled, 0), i.last_handled, coalesce(o.partitions, 0)
                FROM (SELECT consumer_group FROM {_names.Inbox} UNION SELECT consumer_group FROM {_names.InboxOffsets}) g
                LEFT JOIN (SELECT consumer_group, count(*) AS handled, max(handled_at) AS last_handled FROM {_names.Inbox} GROUP BY consumer_group) i USING (consumer_group)
                LEFT JOIN (SELECT consumer_group, count(*) AS partitions FROM {_names.InboxOffsets} GROUP BY consumer_group) o USING (consumer_group)
                ORDER BY g.consumer_group
                """;
            await foreach (var r in QueryAsync(connection, inboxSql, cancellationToken).ConfigureAwait(false))
            {
                inboxes.Add(new InboxStatus(r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), r.GetInt64(3)));
            }

            return new OutboxStatus(pending, oldest is null ? null : now - oldest, lanes.Values.OrderBy(l => l.Lane).ToList(), deadLetters, slots, inboxes, parkedKeys, retryingKeys, capped);
        }
    }

    /// <summary>Lists dead letters, oldest first.</summary>
    /// <param name="limit">The most rows to return.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The dead letters in the order they were dead-lettered.</returns>
    public async Task<IReadOnlyList<DeadLetterRow>> ListDeadLettersAsync(int limit, CancellationToken cancellationToken = default)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var rows = new List<DeadLetterRow>();
            var sql = $"{SelectDeadLetters} ORDER BY dead_lettered_at, commit_seq NULLS LAST LIMIT $1";
            await foreach (var r in QueryAsync(connection, sql, cancellationToken, new NpgsqlParameter<int> { TypedValue = limit }).ConfigureAwait(false))
            {
                rows.Add(DeadLetterRows.Read(r));
            }

            return rows;
        }
    }

    /// <summary>Reads one dead letter.</summary>
    /// <param name="id">The event id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The dead letter, or <see langword="null"/> when there is none with that id.</returns>
    public async Task<DeadLetterRow?> GetDeadLetterAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await foreach (var r in QueryAsync(connection, $"{SelectDeadLetters} WHERE id = $1", cancellationToken, new NpgsqlParameter<Guid> { TypedValue = id }).ConfigureAwait(false))
            {
                return DeadLetterRows.Read(r);
            }

            return null;
        }
    }

    /// <summary>
    /// Moves dead letters back into the outbox in their original order, with their original ids and fresh attempt
    /// counters, in one transaction. <paramref name="ids"/> <see langword="null"/> replays all.
    /// </summary>
    /// <remarks>
    /// The original order is the original commit sequence for rows the polling relay dead-lettered; the CDC relay's
    /// dead letters have none and follow, in the order they were dead-lettered, which is the stream's (commit) order.
    /// Each relay publishes the replayed rows as rows committed now: after everything committed before, with the same
    /// ids (the CDC relay tells them from the rows it dead-lettered by their transaction).
    /// </remarks>
    /// <param name="ids">The event ids to replay; <see langword="null"/> replays every dead letter.</param>
    /// <param name="cancellationToken">Cancels the transaction.</param>
    /// <returns>How many rows moved back into the outbox.</returns>
    public Task<int> ReplayDeadLettersAsync(IReadOnlyCollection<Guid>? ids, CancellationToken cancellationToken = default) =>
        InTransactionAsync(
            $"""
            WITH moved AS (
                DELETE FROM {_names.DeadLetters} WHERE ($1::uuid[] IS NULL OR id = ANY($1))
                RETURNING {OutboxRows.EventColumns}, dead_lettered_at
            )
            INSERT INTO {_names.Messages} ({OutboxRows.WriteColumns})
            SELECT id, aggregatetype, aggregateid, type, payload, lane, created_at, traceparent, tracestate, 0
            FROM moved ORDER BY commit_seq NULLS LAST, dead_lettered_at, created_at, id
            """,
            ids,
            cancellationToken);

    /// <summary>Deletes dead letters for good. <paramref name="ids"/> <see langword="null"/> purges all.</summary>
    /// <param name="ids">The event ids to delete; <see langword="null"/> deletes every dead letter.</param>
    /// <param name="cancellationToken">Cancels the transaction.</param>
    /// <returns>How many dead letters were deleted.</returns>
    public Task<int> PurgeDeadLettersAsync(IReadOnlyCollection<Guid>? ids, CancellationToken cancellationToken = default) =>
        InTransactionAsync($"DELETE FROM {_names.DeadLetters} WHERE ($1::uuid[] IS NULL OR id = ANY($1))", ids, cancellationToken);

    /// <summary>
    /// Drops a CDC relay's (or Debezium connector's) logical replication slot and then its publication, unless a
    /// process uses the slot. A relay started later makes a new slot and publishes the table's rows from it.
    /// </summary>
    /// <param name="slotName">The replication slot (lower-case letters, digits and '_', at most 63 characters).</param>
    /// <param name="publicationName">The publication (a plain SQL identifier).</param>
    /// <param name="cancellationToken">Cancels the commands.</param>
    /// <returns>What was dropped.</returns>
    /// <exception cref="ArgumentException">A name is not valid; <see cref="ArgumentException.ParamName"/> says which.</exception>
    public async Task<ReplicationDrop> DropReplicationAsync(string slotName, string publicationName, CancellationToken cancellationToken = default)
    {
        if (!CdcNames.IsValidSlotName(slotName))
        {
            throw new ArgumentException($"'{slotName}' is not a replication slot name (lower-case letters, digits and '_', at most 63 characters).", nameof(slotName));
        }

        if (!SqlIdentifier.IsValid(publicationName))
        {
            throw new ArgumentException($"'{publicationName}' is not a publication name (a plain SQL identifier: letters, digits and '_', starting with a letter or '_', at most 63 characters).", nameof(publicationName));
        }

        var names = new CdcNames(options, slotName, publicationName);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var slotFound = false;
            await foreach (var r in QueryAsync(
                connection,
                "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()",
                cancellationToken,
                new NpgsqlParameter<string> { TypedValue = names.SlotName }).ConfigureAwait(false))
            {
                if (r.GetBoolean(0))
                {
                    return new ReplicationDrop(ReplicationSlotDrop.InUse, r.IsDBNull(1) ? null : r.GetInt32(1), PublicationFound: false);
                }

                slotFound = true;
            }

            if (slotFound)
            {
                var drop = new NpgsqlCommand(
                    "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()",
                    connection);
                await using (drop.ConfigureAwait(false))
                {
                    drop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = names.SlotName });
                    slotFound = (long)(await drop.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
                }
            }

            var publicationFound = false;
            var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", connection);
            await using (exists.ConfigureAwait(false))
            {
                exists.Parameters.Add(new NpgsqlParameter<string> { TypedValue = names.PublicationName });
                publicationFound = (bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            if (publicationFound)
            {
                var dropPublication = new NpgsqlCommand($"DROP PUBLICATION IF EXISTS {names.QuotedPublication}", connection);
                await using (dropPublication.ConfigureAwait(false))
                {
                    await dropPublication.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            return new ReplicationDrop(slotFound ? ReplicationSlotDrop.Dropped : ReplicationSlotDrop.NotFound, null, publicationFound);
        }
    }

    private string SelectDeadLetters => $"SELECT {DeadLetterRows.ReadColumns} FROM {_names.DeadLetters}";

    private async Task<int> InTransactionAsync(string sql, IReadOnlyCollection<Guid>? ids, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var command = new NpgsqlCommand(sql, connection, transaction);
                await using (command.ConfigureAwait(false))
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = ids is null ? DBNull.Value : ids.ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Uuid });
                    var affected = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return affected;
                }
            }
        }
    }

    private static async IAsyncEnumerable<NpgsqlDataReader> QueryAsync(
        NpgsqlConnection connection, string sql, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.AddRange(parameters);
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    yield return reader;
                }
            }
        }
    }
}
