using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// Rows written without the commit-order trigger (the CDC/Debezium schema) and published from the table instead of
/// the WAL: the backlog of a new slot (first start, after a lost slot was dropped) and the switch to polling. The
/// interleaving that breaks insert order: T_A locks K; T_B writes its event for K (so its row is written first), then
/// waits on K; T_A writes its event and commits; T_B commits. Commit order A, B; write (id) order B, A. Each path runs
/// it on 50 keys and must publish A before B for every key; where PostgreSQL cannot know the order it must refuse.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class UnnumberedRowOrderTests(ITestOutputHelper output)
{
    private const int Keys = 50;

    [Fact]
    public async Task Rows_that_predate_the_first_slot_are_published_in_commit_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var pairs = await InterleaveAsync(harness, Keys);

        var host = await harness.StartRelayHostAsync("relay");
        await harness.WaitUntilStreamingAsync(host);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the backlog is published");

        AssertCommitOrder(harness.ReadTopic(), pairs);
    }

    [Fact]
    public async Task Rows_left_when_a_lost_slot_is_dropped_are_published_in_commit_order_by_the_new_slot()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var host = await harness.StartRelayHostAsync("first");
        await harness.WaitUntilStreamingAsync(host);
        await host.StopAsync();

        // Written while the relay is down, then the operator drops the slot (the documented recovery after a lost slot).
        var pairs = await InterleaveAsync(harness, Keys);
        await harness.WaitAsync(async () => !(await harness.ReadSlotAsync()).Active, "the stopped relay's slot is inactive");
        await using (var drop = harness.DataSource.CreateCommand("SELECT pg_drop_replication_slot($1)"))
        {
            drop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = harness.SlotName });
            await drop.ExecuteNonQueryAsync();
        }

        var second = await harness.StartRelayHostAsync("second");
        await harness.WaitUntilStreamingAsync(second);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the new slot's backlog is published");

        AssertCommitOrder(harness.ReadTopic(), pairs);
    }

    [Fact]
    public async Task Switching_to_polling_numbers_the_unnumbered_rows_in_commit_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var pairs = await InterleaveAsync(harness, Keys);

        using var host = BuildPollingHost(harness, harness.ConnectionString);
        await host.StartAsync();
        try
        {
            await harness.WaitAsync(async () => await harness.CountRowsAsync() == 0, "the polling relay published every row");
        }
        finally
        {
            await host.StopAsync();
        }

        AssertCommitOrder(harness.ReadTopic(), pairs);
    }

    [Fact]
    public async Task Without_commit_timestamps_the_cdc_relay_refuses_a_backlog_of_unknown_order_and_publishes_it_in_write_order_once_accepted()
    {
        await using var server = await StartServerWithoutCommitTimestampsAsync();
        await using var harness = await CdcHarness.CreateAsync(output, database: await server.CreateTestDatabaseAsync("cdc_nots"));
        var pairs = await InterleaveAsync(harness, 3);

        var refused = await harness.StartRelayHostAsync("refused");
        var monitor = CdcHarness.MonitorOf(refused);
        await harness.WaitAsync(() => monitor.State == CdcRelayState.Faulted, "the relay refuses the backlog");
        var error = monitor.LastError ?? "";
        output.WriteLine(error);
        Assert.Contains("3 key(s)", error, StringComparison.Ordinal);
        Assert.Contains("track_commit_timestamp", error, StringComparison.Ordinal);
        Assert.Contains("PostgreSqlOutboxOptions.UnknownCommitOrder", error, StringComparison.Ordinal);
        await refused.StopAsync();
        Assert.False((await harness.ReadSlotAsync()).Exists, "a refused backlog leaves no slot behind to pin WAL");
        Assert.Equal(6L, await harness.CountRowsAsync());
        Assert.Empty(harness.ReadTopic());

        // Accepted explicitly: published in write order, B before A, as the option documents.
        var accepted = await harness.StartRelayHostAsync("accepted", postgreSql: o => o.UnknownCommitOrder = OutboxUnknownCommitOrder.WriteOrder);
        await harness.WaitUntilStreamingAsync(accepted);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the backlog is published");
        var records = harness.ReadTopic();
        foreach (var (key, a, b) in pairs)
        {
            Assert.Equal([b, a], FirstIds(records, key));
        }
    }

    [Fact]
    public async Task Without_commit_timestamps_keys_written_by_one_transaction_each_are_not_refused()
    {
        await using var server = await StartServerWithoutCommitTimestampsAsync();
        await using var harness = await CdcHarness.CreateAsync(output, database: await server.CreateTestDatabaseAsync("cdc_nots_one"));

        // 10 keys, each written by exactly one transaction (several events per transaction): the order is known.
        await harness.WriteAsync(60, keys: 10, perTransaction: 60);
        var host = await harness.StartRelayHostAsync("relay");
        await harness.WaitUntilStreamingAsync(host);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the backlog is published");
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic()));
    }

    [Fact]
    public async Task Without_commit_timestamps_switching_to_polling_refuses_rows_of_unknown_order_until_write_order_is_accepted()
    {
        await using var server = await StartServerWithoutCommitTimestampsAsync();
        await using var harness = await CdcHarness.CreateAsync(output, database: await server.CreateTestDatabaseAsync("poll_nots"));
        await InterleaveAsync(harness, 2);

        using (var refused = BuildPollingHost(harness, harness.ConnectionString))
        {
            var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => refused.StartAsync());
            output.WriteLine(error.Message);
            Assert.Contains("2 key(s)", error.Message, StringComparison.Ordinal);
            Assert.Contains("PostgreSqlOutboxOptions.UnknownCommitOrder", error.Message, StringComparison.Ordinal);
            Assert.Contains("outbox.unknown_commit_order", error.Message, StringComparison.Ordinal);
        }

        // Nothing was numbered, and the refusal rolled the trigger back with it.
        await using (var unnumbered = harness.DataSource.CreateCommand("SELECT count(*) FROM outbox.messages WHERE commit_seq IS NULL"))
        {
            Assert.Equal(4L, (long)(await unnumbered.ExecuteScalarAsync())!);
        }

        // A hand-run script accepts write order with the session setting the message names.
        await using (var connection = await harness.DataSource.OpenConnectionAsync())
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var accept = new NpgsqlCommand("SET LOCAL outbox.unknown_commit_order = 'write_order'", connection, transaction))
            {
                await accept.ExecuteNonQueryAsync();
            }

            await using (var script = new NpgsqlCommand(OutboxSchema.CreateScript(harness.OutboxOptions), connection, transaction))
            {
                await script.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
        }

        using var host = BuildPollingHost(harness, harness.ConnectionString, ensureSchema: false);
        await host.StartAsync();
        try
        {
            await harness.WaitAsync(async () => await harness.CountRowsAsync() == 0, "the polling relay published every row");
        }
        finally
        {
            await host.StopAsync();
        }

        Assert.Equal(4, harness.ReadTopic().Count);
    }

    [Fact]
    public async Task Without_commit_timestamps_ensure_schema_on_start_numbers_rows_in_write_order_when_the_option_accepts_it()
    {
        await using var server = await StartServerWithoutCommitTimestampsAsync();
        await using var harness = await CdcHarness.CreateAsync(output, database: await server.CreateTestDatabaseAsync("poll_nots_ok"));
        var pairs = await InterleaveAsync(harness, 2);

        using var host = BuildPollingHost(harness, harness.ConnectionString, unknownOrder: OutboxUnknownCommitOrder.WriteOrder);
        await host.StartAsync();
        try
        {
            await harness.WaitAsync(async () => await harness.CountRowsAsync() == 0, "the polling relay published every row");
        }
        finally
        {
            await host.StopAsync();
        }

        var records = harness.ReadTopic();
        foreach (var (key, a, b) in pairs)
        {
            Assert.Equal([b, a], FirstIds(records, key));
        }
    }

    [Fact]
    public async Task Switching_to_polling_refuses_while_the_cdc_relays_backlog_still_holds_rows()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        await harness.WriteAsync(3, keys: 1);

        // What a CDC relay stopped between capturing its backlog and publishing it leaves behind.
        await using (var capture = harness.DataSource.CreateCommand("""
            WITH moved AS (DELETE FROM outbox.messages RETURNING id, aggregatetype, aggregateid, type, payload, lane, commit_seq, created_at, traceparent, tracestate, attempts)
            INSERT INTO outbox.messages_cdc_backlog SELECT * FROM moved
            """))
        {
            Assert.Equal(3, await capture.ExecuteNonQueryAsync());
        }

        using var host = BuildPollingHost(harness, harness.ConnectionString);
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        output.WriteLine(error.Message);
        Assert.Contains("3 row(s) in \"outbox\".\"messages_cdc_backlog\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddCdcRelay()", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs the T_A/T_B interleaving once per key on <paramref name="keys"/> keys, each with an aggregate row of its own.
    /// Returns each key with the ids of A (committed first, written second) and B.
    /// </summary>
    private static async Task<List<(string Key, Guid A, Guid B)>> InterleaveAsync(CdcHarness harness, int keys)
    {
        await using (var table = harness.DataSource.CreateCommand("CREATE TABLE IF NOT EXISTS aggregates (id text PRIMARY KEY, version int NOT NULL)"))
        {
            await table.ExecuteNonQueryAsync();
        }

        await using (var create = harness.DataSource.CreateCommand(
            "INSERT INTO aggregates SELECT 'K' || i, 0 FROM generate_series(0, $1 - 1) i ON CONFLICT DO NOTHING"))
        {
            create.Parameters.Add(new NpgsqlParameter<int> { TypedValue = keys });
            await create.ExecuteNonQueryAsync();
        }

        var pairs = new List<(string, Guid, Guid)>();
        await using var a = await harness.DataSource.OpenConnectionAsync();
        await using var b = await harness.DataSource.OpenConnectionAsync();
        for (var i = 0; i < keys; i++)
        {
            var key = "K" + i;
            await using var ta = await a.BeginTransactionAsync();
            await using var tb = await b.BeginTransactionAsync();

            // T_A locks K. T_B writes its event for K first, then blocks on K.
            await LockAsync(a, ta, key);
            var idB = await harness.Writer.EnqueueAsync(b, tb, new CdcTestEvent(key, 1, "B"));
            var bBlocked = LockAsync(b, tb, key);
            await Eventually.TrueAsync(() => harness.IsWaitingOnLockAsync(b.ProcessID), "T_B waits on K's row lock");

            // T_A writes its event and commits; then T_B gets the lock and commits.
            var idA = await harness.Writer.EnqueueAsync(a, ta, new CdcTestEvent(key, 0, "A"));
            await ta.CommitAsync();
            await bBlocked;
            await tb.CommitAsync();
            Assert.True(idB.CompareTo(idA) < 0, "B's row is written first");
            pairs.Add((key, idA, idB));
        }

        return pairs;
    }

    private void AssertCommitOrder(IReadOnlyList<CdcRecord> records, List<(string Key, Guid A, Guid B)> pairs)
    {
        var wrong = pairs.Where(p => !FirstIds(records, p.Key).SequenceEqual([p.A, p.B])).Select(p => p.Key).ToList();
        output.WriteLine($"{records.Count} records, {pairs.Count} keys, {wrong.Count} in the wrong order");
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {pairs.Count} keys published B before A (or lost one): {string.Join(",", wrong.Take(10))}");
    }

    /// <summary>The ids of the key's records in offset order, repeats dropped.</summary>
    private static List<Guid> FirstIds(IReadOnlyList<CdcRecord> records, string key) =>
        records.Where(r => r.KeyText == key).OrderBy(r => r.Offset).Select(r => r.Id).Distinct().ToList();

    private async Task<PostgresServer> StartServerWithoutCommitTimestampsAsync()
    {
        var options = new PostgresServerOptions { Log = output.WriteLine };
        options.Settings["track_commit_timestamp"] = "off";
        var server = await PostgresServer.StartAsync(options);
        Assert.True(server.Kind != PostgresServerKind.Environment, "These tests need a server of their own with track_commit_timestamp = off.");
        return server;
    }

    private IHost BuildPollingHost(
        CdcHarness harness, string connectionString, bool ensureSchema = true, OutboxUnknownCommitOrder unknownOrder = OutboxUnknownCommitOrder.Refuse)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "polling"));
        builder.Services
            .AddOutbox(harness.ConfigureOutbox)
            .UsePostgreSql(connectionString, o =>
            {
                o.EnsureSchemaOnStart = ensureSchema;
                o.UnknownCommitOrder = unknownOrder;
            })
            .UseKafka(k => k.BootstrapServers = harness.Kafka.BootstrapServers)
            .AddPollingRelay(o =>
            {
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                o.PollInterval = TimeSpan.FromMilliseconds(500);
            });
        return builder.Build();
    }

    private static async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string key)
    {
        await using var command = new NpgsqlCommand("UPDATE aggregates SET version = version + 1 WHERE id = $1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        await command.ExecuteNonQueryAsync();
    }
}
