using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql;

/// <summary>The PostgreSQL side of the polling relay: lanes table leases, claims in commit order, fenced completion, LISTEN.</summary>
internal sealed class PostgreSqlPollingStore : IPollingRelayStore
{
    private const int CleanupBatchSize = 10_000;
    private static readonly TimeSpan s_listenCheckInterval = TimeSpan.FromSeconds(30);

    private readonly NpgsqlDataSource _dataSource;
    private readonly PollingSql _sql;
    private readonly string? _database;

    /// <param name="dataSource">The outbox's data source.</param>
    /// <param name="options">The outbox's options.</param>
    /// <param name="retainPublished">Whether published rows are kept (<see cref="PollingRelayOptions.PublishedRetention"/>).</param>
    /// <param name="database">The database's name in a fleet of many, stamped on every record (<see cref="OutboxRecord.Database"/>).</param>
    public PostgreSqlPollingStore(NpgsqlDataSource dataSource, OutboxOptions options, bool retainPublished, string? database = null)
    {
        _dataSource = dataSource;
        _sql = new PollingSql(options, retainPublished);
        _database = database;
    }

    public async Task<IReadOnlyList<int>> PrepareAsync(int laneCount, CancellationToken cancellationToken)
    {
        await CheckCommitOrderAsync(cancellationToken).ConfigureAwait(false);
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var ensure = new NpgsqlCommand(_sql.EnsureLanes, connection);
            await using (ensure.ConfigureAwait(false))
            {
                ensure.Parameters.Add(new NpgsqlParameter<int> { TypedValue = laneCount });
                await ensure.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var orphans = new NpgsqlCommand(_sql.FindOrphanLanes, connection);
            await using (orphans.ConfigureAwait(false))
            {
                orphans.Parameters.Add(new NpgsqlParameter<int> { TypedValue = laneCount });
                return await ReadIntsAsync(orphans, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<LeaseRenewal> RenewAsync(string instanceId, IReadOnlyList<LaneLease> leases, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var batch = new NpgsqlBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                var join = new NpgsqlBatchCommand(_sql.Join);
                join.Parameters.Add(new NpgsqlParameter<string> { TypedValue = instanceId });
                join.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });
                var renew = new NpgsqlBatchCommand(_sql.Renew);
                renew.Parameters.Add(new NpgsqlParameter<string> { TypedValue = instanceId });
                renew.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });
                renew.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = leases.Select(l => l.Lane).ToArray() });
                renew.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = leases.Select(l => l.Epoch).ToArray() });
                batch.BatchCommands.Add(join);
                batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.ForgetDeadInstances));
                batch.BatchCommands.Add(renew);
                batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.CountLiveInstances));

                var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    var held = await ReadLeasesAsync(reader, cancellationToken).ConfigureAwait(false);
                    await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    return new LeaseRenewal(held, reader.GetInt32(0));
                }
            }
        }
    }

    public async Task<IReadOnlyList<LaneLease>> AcquireAsync(
        string instanceId, int count, int laneCount, IReadOnlyCollection<int> held, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.Acquire, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = instanceId });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = laneCount });
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = held.ToArray() });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
                command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = leaseDuration });
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    return await ReadLeasesAsync(reader, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    public async Task ReleaseAsync(string instanceId, IReadOnlyList<LaneLease> leases, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.Release, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = instanceId });
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = leases.Select(l => l.Lane).ToArray() });
                command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = leases.Select(l => l.Epoch).ToArray() });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task LeaveAsync(string instanceId, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.Leave, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = instanceId });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<IReadOnlyList<LaneBatch>> ClaimAsync(IReadOnlyList<int> lanes, int batchSize, long maxBytesPerLane, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.Claim, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = lanes as int[] ?? [.. lanes] });
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = maxBytesPerLane });
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    // Rows come ordered by lane, then commit order.
                    var byLane = new Dictionary<int, (List<OutboxRecord> Messages, long Candidates)>();
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        var message = OutboxRows.Read(reader, _database);
                        if (!byLane.TryGetValue(message.Lane, out var lane))
                        {
                            lane = ([], reader.GetInt64(11));
                            byLane.Add(message.Lane, lane);
                        }

                        lane.Messages.Add(message);
                    }

                    var batches = new LaneBatch[lanes.Count];
                    for (var i = 0; i < lanes.Count; i++)
                    {
                        batches[i] = byLane.TryGetValue(lanes[i], out var lane)
                            ? new LaneBatch(lane.Messages, lane.Candidates > lane.Messages.Count)
                            : LaneBatch.Empty;
                    }

                    return batches;
                }
            }
        }
    }

    public async Task<LaneCompletion> CompleteAsync(
        string instanceId,
        IReadOnlyList<LaneLease> leases,
        IReadOnlyList<Guid> acknowledged,
        IReadOnlyList<Guid> retried,
        IReadOnlyList<KeyFailure> failures,
        KeyRetryPolicy policy,
        CancellationToken cancellationToken)
    {
        var epochs = new Dictionary<int, long>(leases.Count);
        foreach (var lease in leases)
        {
            epochs[lease.Lane] = lease.Epoch;
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // One batch is one implicit transaction: the acknowledged rows and the failures commit together or not at all.
            var batch = new NpgsqlBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                var complete = new NpgsqlBatchCommand(_sql.CompleteAcknowledged);
                complete.Parameters.Add(new NpgsqlParameter<string> { TypedValue = instanceId });
                complete.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. leases.Select(l => l.Lane)] });
                complete.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. leases.Select(l => l.Epoch)] });
                complete.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = acknowledged as Guid[] ?? [.. acknowledged] });
                batch.BatchCommands.Add(complete);

                if (retried.Count > 0)
                {
                    var forget = new NpgsqlBatchCommand(_sql.Forget);
                    forget.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = retried as Guid[] ?? [.. retried] });
                    batch.BatchCommands.Add(forget);
                }

                foreach (var failure in failures)
                {
                    var record = new NpgsqlBatchCommand(_sql.Fail);
                    ParkingStore.AddFailParameters(record, failure, policy);
                    var lane = failure.Message.Lane;
                    record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = lane });
                    record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = instanceId });
                    record.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epochs.GetValueOrDefault(lane, -1) });
                    batch.BatchCommands.Add(record);
                }

                var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    var held = new HashSet<int>();
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        held.Add(reader.GetInt32(0));
                    }

                    if (retried.Count > 0)
                    {
                        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                    }

                    // Each failure returns its outcome, or nothing when its lease no longer holds.
                    var outcomes = new KeyFailureOutcome?[failures.Count];
                    for (var i = 0; i < failures.Count; i++)
                    {
                        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            outcomes[i] = ParkingStore.ReadOutcome(reader);
                        }
                    }

                    return new LaneCompletion(held, outcomes);
                }
            }
        }
    }

    public async Task<IReadOnlyList<int>> FindReadyLanesAsync(IReadOnlyCollection<int> lanes, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.FindReadyLanes, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = lanes.ToArray() });
                return await ReadIntsAsync(command, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task ListenAsync(Action<int> onLane, Action onConnected, CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            connection.Notification += (_, e) =>
            {
                if (int.TryParse(e.Payload, NumberStyles.Integer, CultureInfo.InvariantCulture, out var lane))
                {
                    onLane(lane);
                }
            };
            var listen = new NpgsqlCommand(_sql.Listen, connection);
            await using (listen.ConfigureAwait(false))
            {
                await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            onConnected();
            while (true)
            {
                if (!await connection.WaitAsync(s_listenCheckInterval, cancellationToken).ConfigureAwait(false))
                {
                    // Quiet for a while: make sure the connection is still alive (a dead one throws here).
                    var ping = new NpgsqlCommand("SELECT 1", connection);
                    await using (ping.ConfigureAwait(false))
                    {
                        await ping.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
    }

    public async Task<long> DeleteExpiredPublishedAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        var total = 0L;
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            while (true)
            {
                var command = new NpgsqlCommand(_sql.DeleteExpiredPublished, connection);
                await using (command.ConfigureAwait(false))
                {
                    command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = retention });
                    command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = CleanupBatchSize });
                    var deleted = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    total += deleted;
                    if (deleted < CleanupBatchSize)
                    {
                        return total;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Checks that the schema gives this relay commit order: the commit-order trigger exists and is enabled, and no
    /// unpublished row lacks <c>commit_seq</c> (such rows could not be ordered, and would never be claimed). A missing
    /// table is not checked here: the relay's other statements fail on it.
    /// </summary>
    /// <exception cref="OutboxConfigurationException">The schema was made for the CDC relay or Debezium, or the trigger is disabled.</exception>
    public async Task CheckCommitOrderAsync(CancellationToken cancellationToken)
    {
        const string fix = "Create it with the default schema script (OutboxSchema.CreateScript(options), OutboxSchema.EnsureCreatedAsync, " +
                           "or `dotnet outbox schema`), or set PostgreSqlOutboxOptions.EnsureSchemaOnStart = true; " +
                           "that script also numbers the rows written without it, ahead of every later row.";
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            string? state;
            var command = new NpgsqlCommand(_sql.CommitTriggerState, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sql.MessagesTable });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sql.CommitTriggerName });
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    if (!reader.GetBoolean(0))
                    {
                        return;
                    }

                    state = reader.IsDBNull(1) ? null : reader.GetString(1);
                }
            }

            if (state is null)
            {
                throw new OutboxConfigurationException(
                    $"The polling relay needs the commit-order trigger \"{_sql.CommitTriggerName}\" on {_sql.MessagesTable}, and it is missing: " +
                    "the schema was created for the CDC relay or Debezium (OutboxCommitOrder.WriteAheadLog), which read commit order from the WAL. " +
                    "Without it the polling relay would publish events of one key out of order. " + fix);
            }

            if (state == "D")
            {
                throw new OutboxConfigurationException(
                    $"The commit-order trigger \"{_sql.CommitTriggerName}\" on {_sql.MessagesTable} is disabled; the polling relay needs it to publish in commit order. " +
                    $"Enable it: ALTER TABLE {_sql.MessagesTable} ENABLE TRIGGER {SqlIdentifier.Quote(_sql.CommitTriggerName)};");
            }

            var count = new NpgsqlCommand(_sql.CountUnordered, connection);
            await using (count.ConfigureAwait(false))
            {
                var unordered = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                if (unordered > 0)
                {
                    throw new OutboxConfigurationException(
                        $"{unordered} unpublished row(s) of {_sql.MessagesTable} have no commit_seq: they were written while the commit-order trigger " +
                        "was missing, and the polling relay cannot order them. Run the default schema script again (OutboxSchema.CreateScript(options), " +
                        "OutboxSchema.EnsureCreatedAsync, `dotnet outbox schema`, or PostgreSqlOutboxOptions.EnsureSchemaOnStart = true): it numbers them " +
                        "ahead of every later row.");
                }
            }

            // Rows the CDC relay moved to its backlog when it created a slot and had not published yet: the polling relay
            // does not read that table, so starting would strand them (and publish later events of their keys first).
            // Only where the relay's role may read it: a polling-only deployment need not grant anything on the CDC tables.
            var backlogExists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL AND has_table_privilege(to_regclass($1), 'SELECT')", connection);
            await using (backlogExists.ConfigureAwait(false))
            {
                backlogExists.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sql.CdcBacklogTable });
                if (!(bool)(await backlogExists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                {
                    return;
                }
            }

            var backlog = new NpgsqlCommand(_sql.CountCdcBacklog, connection);
            await using (backlog.ConfigureAwait(false))
            {
                var waiting = (long)(await backlog.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                if (waiting > 0)
                {
                    throw new OutboxConfigurationException(
                        $"{waiting} row(s) in {_sql.CdcBacklogTable} were captured by the CDC relay when it created its replication slot and are not " +
                        "published yet; the polling relay does not read that table, and publishing newer rows first would reorder their keys. " +
                        "Run the CDC relay (AddCdcRelay()) until that table is empty, then switch to the polling relay (see docs/relay-cdc.md, Switching relays).");
                }
            }
        }
    }

    /// <summary>Counts the rows not yet published (deleted or marked): zero means the outbox is drained.</summary>
    public async Task<long> CountPendingAsync(CancellationToken cancellationToken = default)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.CountPending, connection);
            await using (command.ConfigureAwait(false))
            {
                return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
        }
    }

    private static async Task<IReadOnlyList<LaneLease>> ReadLeasesAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var leases = new List<LaneLease>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            leases.Add(new LaneLease(reader.GetInt32(0), reader.GetInt64(1)));
        }

        return leases;
    }

    private static async Task<IReadOnlyList<int>> ReadIntsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var values = new List<int>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                values.Add(reader.GetInt32(0));
            }
        }

        return values;
    }
}
