using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// The DDL of the outbox: the one source of truth for tables, sequence, trigger and indexes. Use
/// <see cref="CreateScript(OutboxOptions)"/> to manage DDL yourself (for example in an EF Core migration with
/// <c>migrationBuilder.Sql(...)</c>), or <see cref="EnsureCreatedAsync(NpgsqlDataSource, OutboxOptions, CancellationToken)"/>
/// during development and tests. With only the CDC relay or Debezium, <see cref="CreateScript(OutboxOptions, OutboxCommitOrder)"/>
/// with <see cref="OutboxCommitOrder.WriteAheadLog"/> leaves out the commit-order trigger.
/// </summary>
public static class OutboxSchema
{
    // Serializes concurrent EnsureCreatedAsync calls from several processes (an arbitrary, fixed key).
    private const long SchemaLockKey = 0x4F7574626F78; // "Outbox"

    /// <summary>Gets the idempotent DDL script that creates every outbox object for the given options, with the
    /// commit-order trigger (<see cref="OutboxCommitOrder.Trigger"/>: suits every relay).</summary>
    /// <param name="options">The outbox options (schema and table names, lane count).</param>
    /// <returns>A script of statements that can run more than once.</returns>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    public static string CreateScript(OutboxOptions options) => CreateScript(options, OutboxCommitOrder.Trigger);

    /// <summary>Gets the idempotent DDL script that creates every outbox object for the given options.</summary>
    /// <param name="options">The outbox options (schema and table names, lane count).</param>
    /// <param name="commitOrder">
    /// <see cref="OutboxCommitOrder.Trigger"/> for the polling relay (or any relay);
    /// <see cref="OutboxCommitOrder.WriteAheadLog"/> for the CDC relay or Debezium only: no commit-order trigger, cheaper
    /// writes. The <see cref="OutboxCommitOrder.WriteAheadLog"/> script never drops an existing trigger; the
    /// <see cref="OutboxCommitOrder.Trigger"/> script creates a missing one and numbers the rows written without it.
    /// </param>
    /// <returns>A script of statements that can run more than once.</returns>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    public static string CreateScript(OutboxOptions options, OutboxCommitOrder commitOrder)
    {
        ArgumentNullException.ThrowIfNull(options);
        var n = new OutboxTableNames(options);
        var commitTrigger = commitOrder switch
        {
            OutboxCommitOrder.Trigger => CommitTriggerScript(n),
            OutboxCommitOrder.WriteAheadLog => "-- No commit-order trigger: the CDC relay and Debezium take commit order from the WAL.",
            _ => throw new ArgumentOutOfRangeException(nameof(commitOrder), commitOrder, "Unknown commit order."),
        };
        return $"""
            CREATE SCHEMA IF NOT EXISTS {n.QuotedSchema};

            -- Commit order: the sequence value is taken when the writing transaction commits (deferred trigger below).
            -- CACHE 1 keeps values in taking order across sessions.
            CREATE SEQUENCE IF NOT EXISTS {n.CommitSequence} AS bigint CACHE 1;

            CREATE TABLE IF NOT EXISTS {n.Messages} (
                id uuid NOT NULL,
                aggregatetype text NOT NULL,
                aggregateid text NOT NULL,
                type text NOT NULL,
                payload jsonb NOT NULL,
                lane integer NOT NULL,
                commit_seq bigint NULL,
                created_at timestamp with time zone NOT NULL,
                traceparent text NULL,
                tracestate text NULL,
                attempts integer NOT NULL,
                last_error text NULL,
                next_attempt_at timestamp with time zone NULL,
                published_at timestamp with time zone NULL,
                CONSTRAINT {SqlIdentifier.Quote(n.PrimaryKeyName)} PRIMARY KEY (id)
            );

            CREATE INDEX IF NOT EXISTS {SqlIdentifier.Quote(n.LaneIndexName)}
                ON {n.Messages} (lane, commit_seq) WHERE published_at IS NULL;

            {commitTrigger}

            CREATE TABLE IF NOT EXISTS {n.Lanes} (
                lane integer NOT NULL PRIMARY KEY,
                owner text NULL,
                epoch bigint NOT NULL DEFAULT 0,
                lease_expires_at timestamp with time zone NULL
            );

            INSERT INTO {n.Lanes} (lane) SELECT generate_series(0, {options.LaneCount - 1}) ON CONFLICT (lane) DO NOTHING;

            -- Live polling-relay instances: each one's even share of lanes is LaneCount / live instances.
            CREATE TABLE IF NOT EXISTS {n.Instances} (
                instance_id text NOT NULL PRIMARY KEY,
                expires_at timestamp with time zone NOT NULL
            );

            CREATE TABLE IF NOT EXISTS {n.DeadLetters} (
                id uuid NOT NULL PRIMARY KEY,
                aggregatetype text NOT NULL,
                aggregateid text NOT NULL,
                type text NOT NULL,
                payload jsonb NOT NULL,
                lane integer NOT NULL,
                commit_seq bigint NULL,
                created_at timestamp with time zone NOT NULL,
                traceparent text NULL,
                tracestate text NULL,
                attempts integer NOT NULL,
                last_error text NULL,
                dead_lettered_at timestamp with time zone NOT NULL
            );

            -- Keys the relays hold back: the event that failed (message_id) and every later event of its aggregate wait in
            -- the outbox table, in order, while other keys flow. Retrying until retry_at, or parked until an operator
            -- replays or discards it; released_at_lsn marks a release (the CDC relay publishes the key again from there).
            CREATE TABLE IF NOT EXISTS {n.ParkedKeys} (
                aggregatetype text NOT NULL,
                aggregateid text NOT NULL,
                lane integer NOT NULL,
                message_id uuid NOT NULL,
                attempts integer NOT NULL,
                last_error text NULL,
                retry_at timestamp with time zone NULL,
                parked_at timestamp with time zone NULL,
                released_at_lsn pg_lsn NULL,
                updated_at timestamp with time zone NOT NULL,
                PRIMARY KEY (aggregatetype, aggregateid)
            );

            CREATE TABLE IF NOT EXISTS {n.Inbox} (
                consumer_group text NOT NULL,
                message_id text NOT NULL,
                topic text NOT NULL,
                partition integer NOT NULL,
                "offset" bigint NOT NULL,
                handled_at timestamp with time zone NOT NULL,
                PRIMARY KEY (consumer_group, message_id)
            );

            CREATE INDEX IF NOT EXISTS {SqlIdentifier.Quote(n.InboxHandledAtIndexName)} ON {n.Inbox} (handled_at);

            CREATE TABLE IF NOT EXISTS {n.InboxOffsets} (
                consumer_group text NOT NULL,
                topic text NOT NULL,
                partition integer NOT NULL,
                next_offset bigint NOT NULL,
                updated_at timestamp with time zone NOT NULL,
                PRIMARY KEY (consumer_group, topic, partition)
            );

            -- Inbox records that failed for good (state 'parked': their key waits), the later records of a parked key
            -- held behind them in offset order (state 'held'), and records kept because the dead-letter topic refused
            -- them (state 'dead_letter': their key goes on). Keys and values are bytes as Kafka delivered them.
            CREATE TABLE IF NOT EXISTS {n.InboxParked} (
                consumer_group text NOT NULL,
                topic text NOT NULL,
                partition integer NOT NULL,
                "offset" bigint NOT NULL,
                record_key bytea NULL,
                message_id text NULL,
                type text NULL,
                value bytea NULL,
                header_names text[] NOT NULL,
                header_values bytea[] NOT NULL,
                record_timestamp timestamp with time zone NOT NULL,
                state text NOT NULL,
                reason text NOT NULL,
                error_type text NULL,
                error text NULL,
                attempts integer NOT NULL,
                parked_at timestamp with time zone NOT NULL,
                replay_requested_at timestamp with time zone NULL,
                PRIMARY KEY (consumer_group, topic, partition, "offset")
            );

            -- CDC relay: the slots it created (and whether their backlog was captured), and the rows that were in the
            -- outbox table when a slot was created (the slot's stream does not have them).
            CREATE TABLE IF NOT EXISTS {n.CdcSlots} (
                slot_name text NOT NULL PRIMARY KEY,
                state text NOT NULL,
                updated_at timestamp with time zone NOT NULL DEFAULT now()
            );

            CREATE TABLE IF NOT EXISTS {n.CdcBacklog} (
                id uuid NOT NULL PRIMARY KEY,
                aggregatetype text NOT NULL,
                aggregateid text NOT NULL,
                type text NOT NULL,
                payload jsonb NOT NULL,
                lane integer NOT NULL,
                commit_seq bigint NULL,
                created_at timestamp with time zone NOT NULL,
                traceparent text NULL,
                tracestate text NULL,
                attempts integer NOT NULL
            );
            """;
    }

    /// <summary>Returns whether the commit-order trigger exists on the outbox table.</summary>
    internal static async Task<bool> HasCommitTriggerAsync(NpgsqlDataSource dataSource, OutboxOptions options, CancellationToken cancellationToken)
    {
        var n = new OutboxTableNames(options);
        var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2)");
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = n.Messages });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = n.CommitTriggerName });
            return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
    }

    /// <summary>The statement that drops the commit-order trigger (for the log message that suggests it).</summary>
    internal static string DropCommitTriggerStatement(OutboxOptions options)
    {
        var n = new OutboxTableNames(options);
        return $"DROP TRIGGER IF EXISTS {SqlIdentifier.Quote(n.CommitTriggerName)} ON {n.Messages};";
    }

    private static string CommitTriggerScript(OutboxTableNames n) => $"""
            -- A transaction that waits on an aggregate's row lock reaches its commit only after the holder committed,
            -- so assigning the order at commit keeps per-key commit order (see docs/relay-polling.md).
            CREATE OR REPLACE FUNCTION {n.CommitFunction}() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                UPDATE {n.Messages} SET commit_seq = nextval('{n.CommitSequence}') WHERE id = NEW.id;
                PERFORM pg_notify('{n.NotificationChannel}', NEW.lane::text);
                RETURN NULL;
            END
            $fn$;

            DO $do$
            DECLARE
                unknown_keys integer;
                example_type text;
                example_id text;
            BEGIN
                IF NOT EXISTS (
                    SELECT 1 FROM pg_trigger
                    WHERE tgname = '{n.CommitTriggerName}' AND tgrelid = '{n.Messages}'::regclass) THEN
                    CREATE CONSTRAINT TRIGGER {SqlIdentifier.Quote(n.CommitTriggerName)}
                        AFTER INSERT ON {n.Messages}
                        DEFERRABLE INITIALLY DEFERRED
                        FOR EACH ROW EXECUTE FUNCTION {n.CommitFunction}();
                END IF;

                -- Rows written while the trigger was missing (a schema made for the CDC relay or Debezium) have no
                -- commit_seq. Creating the trigger waited for every transaction writing the table, so they committed
                -- before any row the trigger numbers: number them below every numbered row, in commit order, so the
                -- polling relay publishes them first. In the same statement as the trigger: nothing commits in between.
                -- Commit order comes from commit timestamps (track_commit_timestamp); where PostgreSQL did not record
                -- it and one key has rows of several transactions, refuse unless write order was accepted.
                IF EXISTS (SELECT 1 FROM {n.Messages} WHERE commit_seq IS NULL AND published_at IS NULL) THEN
                    IF coalesce(current_setting('{UnnumberedRowOrder.SettingName}', true), '') <> '{UnnumberedRowOrder.WriteOrderValue}' THEN
                        SELECT u.* INTO unknown_keys, example_type, example_id FROM (
                            {UnnumberedRowOrder.UnknownOrderKeys(n.Messages, "m.published_at IS NULL")}) u;
                        IF unknown_keys > 0 THEN
                            RAISE EXCEPTION USING ERRCODE = '{UnknownCommitOrderSqlState}',
                                MESSAGE = format('{UnknownOrderScriptMessage(n)}', unknown_keys, example_type, example_id);
                        END IF;
                    END IF;

                    WITH pending AS (
                        SELECT m.id, row_number() OVER (ORDER BY {UnnumberedRowOrder.OrderBy("m")}) AS n, count(*) OVER () AS total
                        FROM {n.Messages} m WHERE m.commit_seq IS NULL AND m.published_at IS NULL),
                    low AS (
                        SELECT coalesce((SELECT min(commit_seq) FROM {n.Messages}), nextval('{n.CommitSequence}')) AS v)
                    UPDATE {n.Messages} m SET commit_seq = low.v - p.total - 1 + p.n
                    FROM pending p, low WHERE m.id = p.id;
                END IF;
            END
            $do$;
            """;

    /// <summary>The SQLSTATE the migration that drops the commit-order trigger raises while a polling relay still runs.</summary>
    internal const string PollingRelayRunsSqlState = "OB002";

    /// <summary>
    /// The schema script for an EF Core migration: the advisory lock <see cref="EnsureCreatedAsync(NpgsqlDataSource, OutboxOptions, CancellationToken)"/>
    /// takes (a migration and an app with <c>EnsureSchemaOnStart</c> may run at once), the unknown-order policy as a
    /// transaction-local setting, then <see cref="CreateScript(OutboxOptions, OutboxCommitOrder)"/>.
    /// </summary>
    internal static string MigrationCreateScript(OutboxOptions options, OutboxCommitOrder commitOrder, OutboxUnknownCommitOrder unknownOrder)
    {
        var script = CreateScript(options, commitOrder);
        var accept = unknownOrder switch
        {
            OutboxUnknownCommitOrder.Refuse => "",
            OutboxUnknownCommitOrder.WriteOrder => $"SELECT set_config('{UnnumberedRowOrder.SettingName}', '{UnnumberedRowOrder.WriteOrderValue}', true);\n",
            _ => throw new ArgumentOutOfRangeException(nameof(unknownOrder), unknownOrder, "Unknown policy."),
        };
        return $"SELECT pg_advisory_xact_lock({SchemaLockKey});\n{accept}{script}";
    }

    /// <summary>
    /// Drops the commit-order trigger for a switch to the CDC relay or Debezium, refusing (SQLSTATE
    /// <see cref="PollingRelayRunsSqlState"/>) while a polling-relay instance is registered as live: it would go on
    /// reading rows that no longer get a commit order. The same rule as at run time, where the trigger is never dropped
    /// under a polling relay.
    /// </summary>
    internal static string DropCommitTriggerScript(OutboxOptions options)
    {
        var n = new OutboxTableNames(options);
        var message = $"A polling relay still runs on {n.Messages} (a live instance in {n.Instances}); it needs the commit-order trigger " +
                      $"\"{n.CommitTriggerName}\". Stop every polling relay (deploy the CDC relay or Debezium first), then apply this migration again.";
        return $"""
            SELECT pg_advisory_xact_lock({SchemaLockKey});
            DO $do$
            BEGIN
                IF to_regclass('{n.Instances.Replace("'", "''", StringComparison.Ordinal)}') IS NOT NULL
                   AND EXISTS (SELECT 1 FROM {n.Instances} WHERE expires_at > now()) THEN
                    RAISE EXCEPTION USING ERRCODE = '{PollingRelayRunsSqlState}', MESSAGE = '{message.Replace("'", "''", StringComparison.Ordinal)}';
                END IF;
            END
            $do$;
            {DropCommitTriggerStatement(options)}
            """;
    }

    /// <summary>
    /// Drops every object of <see cref="CreateScript(OutboxOptions, OutboxCommitOrder)"/> except the outbox table itself
    /// (the EF Core model owns it: the migration's generated <c>DropTable</c> drops it) and the schema. Runs before or after
    /// that <c>DropTable</c>: the function goes with <c>CASCADE</c>, which takes its trigger along.
    /// </summary>
    internal static string DropScript(OutboxOptions options)
    {
        var n = new OutboxTableNames(options);
        return $"""
            DROP FUNCTION IF EXISTS {n.CommitFunction}() CASCADE;
            DROP SEQUENCE IF EXISTS {n.CommitSequence};
            DROP TABLE IF EXISTS {n.Lanes};
            DROP TABLE IF EXISTS {n.Instances};
            DROP TABLE IF EXISTS {n.DeadLetters};
            DROP TABLE IF EXISTS {n.ParkedKeys};
            DROP TABLE IF EXISTS {n.Inbox};
            DROP TABLE IF EXISTS {n.InboxOffsets};
            DROP TABLE IF EXISTS {n.InboxParked};
            DROP TABLE IF EXISTS {n.CdcSlots};
            DROP TABLE IF EXISTS {n.CdcBacklog};
            """;
    }

    /// <summary>The SQLSTATE the script raises when rows written without the trigger have an unknown commit order.</summary>
    internal const string UnknownCommitOrderSqlState = "OB001";

    // The refusal as a format() string literal: placeholders for the count and the example key, quotes doubled.
    private static string UnknownOrderScriptMessage(OutboxTableNames n) =>
        UnnumberedRowOrder.UnknownOrderMessage(
                n.Messages, "%s", "%s", "%s", "in the order the polling relay needs",
                "If the CDC relay wrote them, it can still publish them in WAL order: switch after it drained the table. ")
            .Replace("'", "''", StringComparison.Ordinal);

    /// <summary>Creates every outbox object that does not exist yet; safe to run concurrently from several processes.</summary>
    /// <param name="dataSource">The database.</param>
    /// <param name="options">The outbox options.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the schema exists.</returns>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    public static Task EnsureCreatedAsync(NpgsqlDataSource dataSource, OutboxOptions options, CancellationToken cancellationToken = default) =>
        EnsureCreatedAsync(dataSource, options, OutboxCommitOrder.Trigger, OutboxUnknownCommitOrder.Refuse, cancellationToken);

    /// <summary>Creates every outbox object that does not exist yet, in the given variant (see <see cref="CreateScript(OutboxOptions, OutboxCommitOrder)"/>).</summary>
    internal static Task EnsureCreatedAsync(NpgsqlDataSource dataSource, OutboxOptions options, OutboxCommitOrder commitOrder, CancellationToken cancellationToken) =>
        EnsureCreatedAsync(dataSource, options, commitOrder, OutboxUnknownCommitOrder.Refuse, cancellationToken);

    /// <summary>Creates every outbox object that does not exist yet, in the given variant, with a policy for rows of unknown commit order.</summary>
    /// <exception cref="OutboxConfigurationException">Rows written without the commit-order trigger have an unknown commit
    /// order and <paramref name="unknownOrder"/> is <see cref="OutboxUnknownCommitOrder.Refuse"/>.</exception>
    internal static async Task EnsureCreatedAsync(
        NpgsqlDataSource dataSource, OutboxOptions options, OutboxCommitOrder commitOrder, OutboxUnknownCommitOrder unknownOrder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var script = CreateScript(options, commitOrder);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction);
                await using (lockCommand.ConfigureAwait(false))
                {
                    lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = SchemaLockKey });
                    await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                if (unknownOrder == OutboxUnknownCommitOrder.WriteOrder)
                {
                    var accept = new NpgsqlCommand($"SET LOCAL {UnnumberedRowOrder.SettingName} = '{UnnumberedRowOrder.WriteOrderValue}'", connection, transaction);
                    await using (accept.ConfigureAwait(false))
                    {
                        await accept.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                }

                var command = new NpgsqlCommand(script, connection, transaction);
                await using (command.ConfigureAwait(false))
                {
                    try
                    {
                        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (PostgresException ex) when (ex.SqlState == UnknownCommitOrderSqlState)
                    {
                        throw new OutboxConfigurationException(ex.MessageText);
                    }
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
