using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// The schema without the commit-order trigger for the relays that read commit order from the WAL (CDC, Debezium), and
/// the polling relay's refusal to run without it: a switch from CDC to polling never reorders events silently.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class CommitOrderSchemaTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_cdc_relay_and_debezium_create_the_schema_without_the_commit_trigger_and_keep_an_existing_one()
    {
        var kafka = await SharedInfrastructure.KafkaAsync();
        var slot = CdcHarness.SlotPrefix + Guid.NewGuid().ToString("N")[..12];

        var cdcDatabase = await CdcInfrastructure.CreateDatabaseAsync("co_cdc");
        using (var host = Build(cdcDatabase, ensureSchema: true, outbox => outbox.UseKafka(k => k.BootstrapServers = kafka.BootstrapServers).AddCdcRelay(o => o.SlotName = slot)))
        {
            await host.StartAsync();
            await host.StopAsync();
        }

        await using (var dataSource = NpgsqlDataSource.Create(cdcDatabase))
        {
            Assert.False(await HasTriggerAsync(dataSource), "AddCdcRelay() creates the schema without the commit-order trigger.");
            Assert.True(await ExistsAsync(dataSource, "outbox.messages_cdc_slots") && await ExistsAsync(dataSource, "outbox.messages_cdc_backlog"), "The CDC tables are created by the schema.");
            await CdcHarness.DropLeftoverSlotsAsync(dataSource);
        }

        var debeziumDatabase = await CdcInfrastructure.CreateDatabaseAsync("co_dbz");
        using (var host = Build(debeziumDatabase, ensureSchema: true, outbox => outbox.UseDebezium()))
        {
            await host.StartAsync();
            await host.StopAsync();
        }

        await using (var dataSource = NpgsqlDataSource.Create(debeziumDatabase))
        {
            Assert.False(await HasTriggerAsync(dataSource), "UseDebezium() creates the schema without the commit-order trigger.");
        }

        // A schema that has the trigger keeps it: another instance may still run a polling relay on the table.
        var existingDatabase = await CdcInfrastructure.CreateDatabaseAsync("co_keep");
        await using (var dataSource = NpgsqlDataSource.Create(existingDatabase))
        {
            await OutboxSchema.EnsureCreatedAsync(dataSource, new OutboxOptions());
            using (var host = Build(existingDatabase, ensureSchema: true, outbox => outbox.UseDebezium()))
            {
                await host.StartAsync();
                await host.StopAsync();
            }

            Assert.True(await HasTriggerAsync(dataSource), "An existing commit-order trigger is not dropped.");
        }
    }

    [Fact]
    public async Task The_polling_relay_refuses_to_start_on_a_schema_without_the_commit_trigger()
    {
        await using var harness = await CdcHarness.CreateAsync(output, commitOrder: OutboxCommitOrder.WriteAheadLog);
        using var host = Build(harness.ConnectionString, ensureSchema: false, outbox => outbox
            .UseKafka(k => k.BootstrapServers = harness.Kafka.BootstrapServers)
            .AddPollingRelay());
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        output.WriteLine(error.Message);
        Assert.Contains("commit-order trigger \"messages_commit_seq\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("PostgreSqlOutboxOptions.EnsureSchemaOnStart", error.Message, StringComparison.Ordinal);
        Assert.Contains("OutboxSchema.CreateScript", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_polling_relay_refuses_rows_that_have_no_commit_order_when_the_trigger_was_added_by_hand()
    {
        await using var harness = await CdcHarness.CreateAsync(output, commitOrder: OutboxCommitOrder.WriteAheadLog);
        await harness.WriteAsync(3, keys: 1);

        // The trigger alone, without the default script's numbering of the rows written before it.
        await using (var create = harness.DataSource.CreateCommand("""
            CREATE FUNCTION outbox.hand_made() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER messages_commit_seq AFTER INSERT ON outbox.messages DEFERRABLE INITIALLY DEFERRED
                FOR EACH ROW EXECUTE FUNCTION outbox.hand_made();
            """))
        {
            await create.ExecuteNonQueryAsync();
        }

        using var host = Build(harness.ConnectionString, ensureSchema: false, outbox => outbox
            .UseKafka(k => k.BootstrapServers = harness.Kafka.BootstrapServers)
            .AddPollingRelay());
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        output.WriteLine(error.Message);
        Assert.Contains("3 unpublished row(s)", error.Message, StringComparison.Ordinal);
        Assert.Contains("no commit_seq", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Switching_from_cdc_to_polling_publishes_the_rows_written_without_the_trigger_first_and_in_write_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output, commitOrder: OutboxCommitOrder.WriteAheadLog);

        // Written in CDC mode and never relayed: no commit_seq.
        await harness.WriteAsync(300, keys: 6, perTransaction: 10);
        await using (var unnumbered = harness.DataSource.CreateCommand("SELECT count(*) FROM outbox.messages WHERE commit_seq IS NULL"))
        {
            Assert.Equal(300L, (long)(await unnumbered.ExecuteScalarAsync())!);
        }

        // The polling relay's registration ensures the default schema: the trigger, and the old rows numbered first.
        using var host = Build(harness.ConnectionString, ensureSchema: true, outbox => outbox
            .UseKafka(k => k.BootstrapServers = harness.Kafka.BootstrapServers)
            .AddPollingRelay(o =>
            {
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                o.PollInterval = TimeSpan.FromMilliseconds(500);
            }),
            harness.ConfigureOutbox);
        await host.StartAsync();
        try
        {
            Assert.True(await HasTriggerAsync(harness.DataSource), "The polling relay's schema has the commit-order trigger.");
            await harness.WriteAsync(300, keys: 6, perTransaction: 10);
            await harness.WaitAsync(async () => await harness.CountRowsAsync() == 0, "the polling relay published every row");
        }
        finally
        {
            await host.StopAsync();
        }

        var records = harness.ReadTopic();
        var duplicates = harness.AssertAllInOrder(records);
        Assert.Empty(duplicates);
        Assert.Equal(600, records.Count);
    }

    private static async Task<bool> HasTriggerAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('outbox.messages') AND tgname = 'messages_commit_seq')");
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<bool> ExistsAsync(NpgsqlDataSource dataSource, string table)
    {
        await using var command = dataSource.CreateCommand("SELECT to_regclass($1) IS NOT NULL");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private IHost Build(string connectionString, bool ensureSchema, Action<IOutboxBuilder> configure, Action<OutboxOptions>? outboxOptions = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "app"));
        configure(builder.Services
            .AddOutbox(outboxOptions ?? (o => o.MapEvent<CdcTestEvent>(CdcHarness.AggregateType, e => e.Key, nameof(CdcTestEvent))))
            .UsePostgreSql(connectionString, o => o.EnsureSchemaOnStart = ensureSchema));
        return builder.Build();
    }
}
