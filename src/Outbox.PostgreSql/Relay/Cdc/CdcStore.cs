using System.Data;
using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;
using Outbox.PostgreSql.Replication;
using Outbox.Providers;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Every SQL statement of the CDC relay (regular connections only; the replication protocol commands are in
/// <see cref="CdcSlotManager"/>). Identifiers come from <see cref="CdcNames"/>; values are parameters.
/// </summary>
internal sealed partial class CdcStore : ICdcBacklogStore
{
    // pg_try_advisory_lock(int, int): a key space of its own ("OB"), so it never meets the schema's bigint lock.
    private const int AdvisoryLockClass = 0x4F42;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string? _replicationConnectionString;
    private readonly CdcNames _names;
    private readonly string _publicationSql;
    private readonly string _createPublicationSql;
    private readonly string _slotStateSql;
    private readonly string _setSlotStateSql;
    private readonly string _captureBacklogSql;
    private readonly string _unknownOrderSql;
    private readonly string _readBacklogSql;
    private readonly string _deleteBacklogSql;
    private readonly string _deleteMessagesSql;
    private readonly string _heldKeysSql;
    private readonly string _keyStatesSql;
    private readonly string _rowStatesSql;
    private readonly string _dueRetriesSql;
    private readonly string _moveBacklogSql;

    /// <param name="dataSource">The outbox's data source (the application's role).</param>
    /// <param name="names">The relay's object names.</param>
    /// <param name="replicationConnectionString">
    /// <see cref="PostgreSqlOutboxOptions.ReplicationConnectionString"/> when set: the role whose <c>REPLICATION</c>
    /// attribute the start checks (the data source's role needs none then).
    /// </param>
    /// <param name="database">The database's name in a fleet of many, stamped on every record (<see cref="OutboxRecord.Database"/>).</param>
    public CdcStore(NpgsqlDataSource dataSource, CdcNames names, string? replicationConnectionString = null, string? database = null)
    {
        Database = database;
        _dataSource = dataSource;
        _replicationConnectionString = string.IsNullOrEmpty(replicationConnectionString) ? null : replicationConnectionString;
        _names = names;
        _publicationSql = """
            SELECT p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.puballtables,
                   EXISTS (SELECT 1 FROM pg_publication_tables t WHERE t.pubname = p.pubname AND t.schemaname = $2 AND t.tablename = $3),
                   (SELECT count(*)::int FROM pg_publication_tables t WHERE t.pubname = p.pubname)
            FROM pg_publication p WHERE p.pubname = $1
            """;
        _createPublicationSql = $"CREATE PUBLICATION {names.QuotedPublication} FOR TABLE {names.Tables.Messages} WITH (publish = 'insert')";
        _slotStateSql = $"SELECT state FROM {names.Tables.CdcSlots} WHERE slot_name = $1";
        _setSlotStateSql = $"""
            INSERT INTO {names.Tables.CdcSlots} (slot_name, state, updated_at) VALUES ($1, $2, now())
            ON CONFLICT (slot_name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
            """;

        // Runs in the slot's exported snapshot: exactly the rows committed before the slot's start move, and the
        // stream delivers every row committed after it. Rows written without the commit-order trigger get commit_seq
        // values above every numbered row, in commit order (UnnumberedRowOrder), so the backlog is read in commit order.
        _captureBacklogSql = $"""
            WITH moved AS (
                DELETE FROM {names.Tables.Messages} RETURNING {OutboxRows.RelayColumns}, xmin),
            base AS (
                SELECT greatest(coalesce((SELECT max(commit_seq) FROM moved), 0), coalesce((SELECT max(commit_seq) FROM {names.Tables.CdcBacklog}), 0)) AS v)
            INSERT INTO {names.Tables.CdcBacklog} ({OutboxRows.RelayColumns})
            SELECT id, aggregatetype, aggregateid, type, payload, lane,
                   coalesce(commit_seq, base.v + row_number() OVER (PARTITION BY commit_seq IS NULL ORDER BY {UnnumberedRowOrder.OrderBy("moved")})),
                   created_at, traceparent, tracestate, attempts
            FROM moved, base
            ON CONFLICT (id) DO NOTHING
            """;
        _unknownOrderSql = UnnumberedRowOrder.UnknownOrderKeys(names.Tables.Messages, "true");
        _readBacklogSql = $"SELECT {OutboxRows.RelayColumns} FROM {names.Tables.CdcBacklog} ORDER BY commit_seq NULLS LAST, id LIMIT $1";
        _deleteBacklogSql = $"DELETE FROM {names.Tables.CdcBacklog} WHERE id = ANY($1) RETURNING id";
        _deleteMessagesSql = $"DELETE FROM {names.Tables.Messages} WHERE id = ANY($1) RETURNING id";

        // Every key of the parked-keys table, held or released: a released key's rows committed before its release are
        // copies the release inserted again, and must be told from the rows after it (see CdcStreamSession).
        _heldKeysSql = $"SELECT aggregatetype, aggregateid FROM {names.Tables.ParkedKeys}";
        _keyStatesSql = $"""
            SELECT p.aggregatetype, p.aggregateid, p.released_at_lsn
            FROM {names.Tables.ParkedKeys} p
            JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON p.aggregatetype = k.t AND p.aggregateid = k.i
            """;
        // Per row: whether its key has a parked-keys row, its release position, and whether the row's transaction (32-bit
        // xid from the stream, widened with the snapshot's xmax) is visible in this statement's snapshot: only then does
        // the parked-keys row read here reflect that transaction (a release inserts its copies and marks the key in one).
        _rowStatesSql = $"""
            SELECT p.aggregatetype IS NOT NULL, p.released_at_lsn,
                   CASE WHEN (k.x - s.xmax32 + 4294967296) % 4294967296 < 2147483648 THEN false
                        ELSE pg_visible_in_snapshot((s.xmax8 - (s.xmax32 - k.x + 4294967296) % 4294967296)::text::xid8, s.snap) END
            FROM (SELECT q.snap, pg_snapshot_xmax(q.snap)::text::bigint AS xmax8, pg_snapshot_xmax(q.snap)::text::bigint % 4294967296 AS xmax32
                  FROM (SELECT pg_current_snapshot() AS snap) q) s
            CROSS JOIN unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS k(t, i, x, n)
            LEFT JOIN {names.Tables.ParkedKeys} p ON p.aggregatetype = k.t AND p.aggregateid = k.i
            ORDER BY k.n
            """;
        _dueRetriesSql = $"""
            SELECT aggregatetype, aggregateid FROM {names.Tables.ParkedKeys}
            WHERE released_at_lsn IS NULL AND parked_at IS NULL AND retry_at <= now()
            ORDER BY retry_at LIMIT $1
            """;

        // Backlog rows of a held key wait in the outbox table like the key's other rows (a release inserts them again
        // with the rest); they keep their commit_seq, which sorts them before the key's streamed rows (none) there.
        _moveBacklogSql = $"""
            WITH moved AS (
                DELETE FROM {names.Tables.CdcBacklog} WHERE id = ANY($1) RETURNING {OutboxRows.RelayColumns})
            INSERT INTO {names.Tables.Messages} ({OutboxRows.RelayColumns})
            SELECT {OutboxRows.RelayColumns} FROM moved ORDER BY commit_seq NULLS LAST, id
            ON CONFLICT (id) DO NOTHING
            """;
    }

    public CdcNames Names => _names;

    /// <summary>Gets the database's name in a fleet of many (stamped on every record), or <see langword="null"/>.</summary>
    public string? Database { get; }

    public async Task<CdcServerFacts> ReadServerFactsAsync(CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT current_setting('wal_level'),
                   current_setting('max_replication_slots')::int,
                   current_setting('max_wal_senders')::int,
                   (SELECT r.rolreplication OR r.rolsuper FROM pg_roles r WHERE r.rolname = current_user),
                   current_user::text,
                   current_database()::text,
                   to_regclass($1) IS NOT NULL,
                   to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL,
                   current_setting('track_commit_timestamp')::boolean
            """;
        var command = _dataSource.CreateCommand(sql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.Tables.Messages });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.Tables.CdcSlots });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.Tables.CdcBacklog });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                return new CdcServerFacts(
                    reader.GetString(0),
                    reader.GetInt32(1),
                    reader.GetInt32(2),
                    !reader.IsDBNull(3) && reader.GetBoolean(3),
                    reader.GetString(4),
                    reader.GetString(5),
                    reader.GetBoolean(6),
                    reader.GetBoolean(7),
                    reader.GetBoolean(8));
            }
        }
    }

    /// <summary>
    /// The server facts, with the privilege of the role that opens the replication connection: the data source's role,
    /// or the role of <see cref="PostgreSqlOutboxOptions.ReplicationConnectionString"/> when it is set (read over a
    /// short, unpooled ordinary connection of that role).
    /// </summary>
    public async Task<CdcServerFacts> ReadServerFactsWithReplicationRoleAsync(CancellationToken cancellationToken)
    {
        var facts = await ReadServerFactsAsync(cancellationToken).ConfigureAwait(false);
        if (_replicationConnectionString is null)
        {
            return facts;
        }

        const string sql = "SELECT (SELECT r.rolreplication OR r.rolsuper FROM pg_roles r WHERE r.rolname = current_user), current_user::text";
        var builder = new NpgsqlConnectionStringBuilder(_replicationConnectionString) { Pooling = false };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var command = new NpgsqlCommand(sql, connection);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    return facts with { CanReplicate = !reader.IsDBNull(0) && reader.GetBoolean(0), CurrentUser = reader.GetString(1), ReplicationRoleSeparate = true };
                }
            }
        }
    }

    public async Task<CdcPublicationFacts?> ReadPublicationAsync(CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(_publicationSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.PublicationName });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.Tables.Schema });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.Tables.MessagesTableName });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                return new CdcPublicationFacts(
                    reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4), reader.GetBoolean(5), reader.GetInt32(6));
            }
        }
    }

    /// <summary>Creates the publication; returns <see langword="false"/> when another process created it first.</summary>
    public async Task<bool> CreatePublicationAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(_createPublicationSql, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            return false;
        }
    }

    public async Task<CdcSlotStatus> ReadSlotAsync(CancellationToken cancellationToken)
    {
        // pg_current_wal_lsn() fails on a server in recovery; a standby cannot hold our slot anyway.
        const string sql = """
            SELECT s.database::text, s.plugin::text, s.slot_type = 'logical', s.temporary, s.active, s.active_pid,
                   s.wal_status, s.confirmed_flush_lsn::text, s.restart_lsn::text,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint,
                   s.safe_wal_size
            FROM pg_replication_slots s WHERE s.slot_name = $1
            """;
        var command = _dataSource.CreateCommand(sql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.SlotName });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return new CdcSlotStatus { SlotName = _names.SlotName, Exists = false };
                }

                return new CdcSlotStatus
                {
                    SlotName = _names.SlotName,
                    Exists = true,
                    Database = NullableString(reader, 0),
                    Plugin = NullableString(reader, 1),
                    IsLogical = reader.GetBoolean(2),
                    IsTemporary = reader.GetBoolean(3),
                    IsActive = reader.GetBoolean(4),
                    ActivePid = reader.IsDBNull(5) ? null : reader.GetInt32(5),
                    WalStatus = NullableString(reader, 6),
                    ConfirmedFlushLsn = NullableString(reader, 7),
                    RestartLsn = NullableString(reader, 8),
                    LagBytes = reader.IsDBNull(9) ? null : reader.GetInt64(9),
                    RetainedWalBytes = reader.IsDBNull(10) ? null : reader.GetInt64(10),
                    SafeWalSizeBytes = reader.IsDBNull(11) ? null : reader.GetInt64(11),
                };
            }
        }
    }

    /// <summary>Reads the slot's confirmed position as the server holds it (0 when the slot does not exist).</summary>
    public async Task<ulong> ReadConfirmedFlushAsync(CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1");
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.SlotName });
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is NpgsqlLogSequenceNumber lsn ? (ulong)lsn : 0;
        }
    }

    /// <summary>
    /// Takes the lock that serializes slot set-up and backlog draining between relay instances. Returns the connection
    /// that holds it, or <see langword="null"/> when another instance holds it. Release with <see cref="UnlockSetupAsync"/>.
    /// </summary>
    public async Task<NpgsqlConnection?> TryLockSetupAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1, hashtext($2))", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = AdvisoryLockClass });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "outbox.cdc:" + _names.SlotName });
                if ((bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                {
                    return connection;
                }
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    public async Task UnlockSetupAsync(NpgsqlConnection connection)
    {
        try
        {
            // A pooled connection keeps session locks until its next use: release explicitly.
            var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1, hashtext($2))", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = AdvisoryLockClass });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "outbox.cdc:" + _names.SlotName });
                await command.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (NpgsqlException)
        {
            // The connection is broken: the server released the lock with the session.
            NpgsqlConnection.ClearPool(connection);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async Task<CdcSlotState> ReadSlotStateAsync(CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(_slotStateSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.SlotName });
            var state = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
            return state switch
            {
                "creating" => CdcSlotState.Creating,
                "ready" => CdcSlotState.Ready,
                _ => CdcSlotState.None,
            };
        }
    }

    public async Task SetSlotStateAsync(CdcSlotState state, CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(_setSlotStateSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.SlotName });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = StateText(state) });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Throws when rows in the outbox table have an unknown commit order (written without the commit-order trigger,
    /// while <c>track_commit_timestamp</c> was off, one key by several transactions): a cheap check before a slot is
    /// created, repeated in the slot's snapshot by <see cref="CaptureBacklogAsync"/>.
    /// </summary>
    /// <exception cref="OutboxConfigurationException">Such rows exist; the message names a key and the fixes.</exception>
    public async Task CheckCommitOrderKnownAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await CheckCommitOrderKnownAsync(connection, null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// In the snapshot the slot exported when it was created, moves the rows that snapshot sees (committed before the
    /// slot's start, so not in the stream) to the backlog table in commit order, and records the slot as ready, atomically.
    /// </summary>
    /// <param name="snapshotName">The snapshot CREATE_REPLICATION_SLOT exported.</param>
    /// <param name="acceptWriteOrder">Whether rows of unknown commit order may move in write order (else they refuse).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>How many rows were moved.</returns>
    /// <exception cref="OutboxConfigurationException">Rows of unknown commit order and <paramref name="acceptWriteOrder"/> is off.</exception>
    public async Task<int> CaptureBacklogAsync(string snapshotName, bool acceptWriteOrder, CancellationToken cancellationToken)
    {
        // SET TRANSACTION SNAPSHOT takes a literal, not a parameter: accept only what the server hands out.
        if (!SnapshotNamePattern().IsMatch(snapshotName))
        {
            throw new InvalidOperationException($"Unexpected snapshot name '{snapshotName}' from CREATE_REPLICATION_SLOT.");
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await ExecuteAsync(connection, transaction, $"SET TRANSACTION SNAPSHOT '{snapshotName}'", cancellationToken).ConfigureAwait(false);
                if (!acceptWriteOrder)
                {
                    await CheckCommitOrderKnownAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                }

                int moved;
                var command = new NpgsqlCommand(_captureBacklogSql, connection, transaction);
                await using (command.ConfigureAwait(false))
                {
                    moved = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                var state = new NpgsqlCommand(_setSlotStateSql, connection, transaction);
                await using (state.ConfigureAwait(false))
                {
                    state.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _names.SlotName });
                    state.Parameters.Add(new NpgsqlParameter<string> { TypedValue = StateText(CdcSlotState.Ready) });
                    await state.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return moved;
            }
        }
    }

    private async Task CheckCommitOrderKnownAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(_unknownOrderSql, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var keys = reader.GetInt32(0);
                if (keys > 0)
                {
                    throw new OutboxConfigurationException(UnnumberedRowOrder.UnknownOrderMessage(
                        _names.Tables.Messages,
                        keys.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        reader.GetString(1),
                        reader.GetString(2),
                        $"in the backlog of the new replication slot '{_names.SlotName}'",
                        string.Empty));
                }
            }
        }
    }

    /// <summary>Reads the oldest backlog rows in commit order.</summary>
    public async Task<List<OutboxRecord>> ReadBacklogAsync(int limit, CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(_readBacklogSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var messages = new List<OutboxRecord>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    messages.Add(OutboxRows.Read(reader, Database));
                }

                return messages;
            }
        }
    }

    public Task DeleteBacklogAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken) =>
        DeleteByIdsAsync(_deleteBacklogSql, ids, cancellationToken);

    /// <summary>
    /// Deletes acknowledged rows from the outbox table (the table keeps only rows not yet acknowledged) and returns the
    /// ids it did not find. A transaction is decoded as soon as its commit record is flushed, a moment before other
    /// sessions see it: a row can be acknowledged before it is visible to the delete. (Rows deleted by an earlier
    /// session, replayed since, are not found either.)
    /// </summary>
    public Task<List<Guid>> DeleteMessagesAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken) =>
        DeleteByIdsAsync(_deleteMessagesSql, ids, cancellationToken);

    /// <summary>Every key in the parked-keys table (held or released), as (aggregate type, aggregate id).</summary>
    public async Task<List<(string Type, string Id)>> ReadParkedKeysAsync(CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(_heldKeysSql);
        await using (command.ConfigureAwait(false))
        {
            return await ReadKeysAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The parked-keys rows of <paramref name="keys"/>: per key found, its release position (<see langword="null"/> while
    /// held). A key without a row is not held (never, or forgotten after its release).
    /// </summary>
    public async Task<Dictionary<(string Type, string Id), ulong?>> ReadKeyStatesAsync(IReadOnlyCollection<(string Type, string Id)> keys, CancellationToken cancellationToken)
    {
        var states = new Dictionary<(string Type, string Id), ulong?>(keys.Count);
        var command = _dataSource.CreateCommand(_keyStatesSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => k.Type).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => k.Id).ToArray() });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    states[(reader.GetString(0), reader.GetString(1))] =
                        reader.IsDBNull(2) ? null : (ulong)reader.GetFieldValue<NpgsqlLogSequenceNumber>(2);
                }
            }
        }

        return states;
    }

    /// <summary>
    /// Per row (in order): whether its key has a row in the parked-keys table, the key's release position
    /// (<see langword="null"/> while held), and whether the row's transaction is visible in the snapshot that read them.
    /// </summary>
    public async Task<List<(bool Parked, ulong? ReleasedAt, bool Visible)>> ReadRowStatesAsync(IReadOnlyList<CdcRow> rows, CancellationToken cancellationToken)
    {
        var states = new List<(bool Parked, ulong? ReleasedAt, bool Visible)>(rows.Count);
        var command = _dataSource.CreateCommand(_rowStatesSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = rows.Select(r => r.Message.AggregateType).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = rows.Select(r => r.Message.AggregateId).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = rows.Select(r => (long)r.Xid).ToArray() });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    states.Add((
                        reader.GetBoolean(0),
                        reader.IsDBNull(1) ? null : (ulong)reader.GetFieldValue<NpgsqlLogSequenceNumber>(1),
                        reader.GetBoolean(2)));
                }
            }
        }

        return states;
    }

    /// <summary>Keys waiting for an automatic retry whose time has come, oldest first.</summary>
    public async Task<List<(string Type, string Id)>> ReadDueRetriesAsync(int limit, CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(_dueRetriesSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            return await ReadKeysAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="forgetReleasedSql"/> (ParkingSql.ForgetReleased) with the slot's confirmed position.</summary>
    public async Task<int> ForgetReleasedAsync(string forgetReleasedSql, ulong confirmed, CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(forgetReleasedSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<NpgsqlLogSequenceNumber> { TypedValue = new NpgsqlLogSequenceNumber(confirmed), NpgsqlDbType = NpgsqlDbType.PgLsn });
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Moves backlog rows of held keys into the outbox table, in their order, where they wait with the key's other rows.</summary>
    public async Task MoveBacklogToMessagesAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(_moveBacklogSql);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids.ToArray() });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<List<(string Type, string Id)>> ReadKeysAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var keys = new List<(string Type, string Id)>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                keys.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        return keys;
    }

    private static string StateText(CdcSlotState state) => state switch
    {
        CdcSlotState.Creating => "creating",
        CdcSlotState.Ready => "ready",
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    [GeneratedRegex(@"\A[0-9A-Fa-f-]{1,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SnapshotNamePattern();

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        var command = _dataSource.CreateCommand(sql);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<List<Guid>> DeleteByIdsAsync(string sql, IReadOnlyList<Guid> ids, CancellationToken cancellationToken)
    {
        // Bounded statements: a large backlog of acknowledgements is deleted in slices.
        const int slice = 20_000;
        var missing = new List<Guid>();
        for (var start = 0; start < ids.Count; start += slice)
        {
            var count = Math.Min(slice, ids.Count - start);
            var array = new Guid[count];
            for (var i = 0; i < count; i++)
            {
                array[i] = ids[start + i];
            }

            var deleted = new HashSet<Guid>(count);
            var command = _dataSource.CreateCommand(sql);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = array });
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        deleted.Add(reader.GetGuid(0));
                    }
                }
            }

            if (deleted.Count < count)
            {
                missing.AddRange(array.Where(id => !deleted.Contains(id)));
            }
        }

        return missing;
    }
}
