using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Testing;

namespace Outbox.IntegrationTests.Migrations;

/// <summary>
/// <c>migrationBuilder.CreateOutboxSchema(...)</c>, <c>SwitchOutboxCommitOrder(...)</c> and <c>DropOutboxSchema(...)</c>
/// applied in process, through EF Core's own SQL generator and migration executor, next to the operations
/// <c>dotnet ef migrations add</c> generates for the model: on a fresh database, on schemas made earlier (by
/// <c>EnsureSchemaOnStart</c>'s script or by the script pasted into an older migration), switching relay kind, and down.
/// The same with the real <c>dotnet ef</c> tool: <see cref="EfCoreMigrationsRoundTripTests"/>.
/// </summary>
public sealed class MigrationBuilderTests
{
    [Fact]
    public async Task The_line_after_the_generated_operations_creates_the_whole_schema_on_a_fresh_database()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("mig_fresh");
        var reference = await SharedInfrastructure.CreateDatabaseAsync("mig_ref");
        await using (var referenceSource = NpgsqlDataSource.Create(reference))
        {
            await OutboxSchema.EnsureCreatedAsync(referenceSource, new OutboxOptions());
        }

        await using var services = MigrationDb.BuildServices(database);
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration(withModel: true).CreateOutboxSchema());
        }

        await using var source = NpgsqlDataSource.Create(database);
        await using var referenceSource2 = NpgsqlDataSource.Create(reference);
        var created = await DescribeOutboxSchemaAsync(source);
        Assert.Equal(await DescribeOutboxSchemaAsync(referenceSource2), created);
        Assert.Contains("trigger messages_commit_seq", created);
        Assert.Contains("table messages_cdc_backlog", created);
        Assert.Contains("table inbox_parked", created);
        Assert.Equal(64L, await ScalarAsync(source, "SELECT count(*) FROM outbox.lanes"));
        Assert.Equal(1L, await ScalarAsync(source, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'Watches'"));

        // The outbox works: SaveChanges writes the business row and the event, which the trigger numbers at commit.
        await WriteAsync(services, 3);
        Assert.Equal(3L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NOT NULL"));

        // Applied again in a later migration: nothing to do, nothing fails.
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration().CreateOutboxSchema());
        }

        Assert.Equal(created, await DescribeOutboxSchemaAsync(source));
    }

    [Fact]
    public async Task The_line_before_the_generated_operations_leaves_the_generated_CreateTable_which_fails_as_documented()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("mig_early");
        await using var services = MigrationDb.BuildServices(database);
        await using var db = NewContext(services);
        var migration = db.NewMigration().CreateOutboxSchema();
        migration.Operations.AddRange(db.ModelOperations());
        var error = await Assert.ThrowsAsync<PostgresException>(() => db.ApplyAsync(migration));
        Assert.Equal(PostgresErrorCodes.DuplicateTable, error.SqlState);
    }

    [Fact]
    public async Task The_line_upgrades_a_schema_made_by_EnsureSchemaOnStart_whose_table_the_generated_migration_would_create_again()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("mig_ensure");
        await using var source = NpgsqlDataSource.Create(database);
        await OutboxSchema.EnsureCreatedAsync(source, new OutboxOptions());
        await using var services = MigrationDb.BuildServices(database);
        await WriteEventsOnlyAsync(services, source, 2);

        // Without the line, the first generated migration creates the outbox table again and fails.
        await using (var db = NewContext(services))
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => db.ApplyAsync(db.NewMigration(withModel: true)));
            Assert.Equal(PostgresErrorCodes.DuplicateTable, error.SqlState);
        }

        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration(withModel: true).CreateOutboxSchema());
        }

        Assert.Equal(2L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NOT NULL"));
        Assert.Equal(1L, await ScalarAsync(source, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox.messages'::regclass AND NOT tgisinternal"));
        await WriteAsync(services, 2);
        Assert.Equal(4L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NOT NULL"));
    }

    [Fact]
    public async Task The_line_applies_after_an_older_migration_that_pasted_the_script()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("mig_pasted");
        await using var services = MigrationDb.BuildServices(database);

        // What docs/write-path.md told users before: the generated migration plus the script pasted in by hand.
        await using (var db = NewContext(services))
        {
            var older = db.NewMigration(withModel: true);
            older.Sql(OutboxSchema.CreateScript(new OutboxOptions()));
            await db.ApplyAsync(older);
        }

        await WriteAsync(services, 2);
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration().CreateOutboxSchema());
        }

        await using var source = NpgsqlDataSource.Create(database);
        await WriteAsync(services, 1);
        Assert.Equal(3L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NOT NULL"));
    }

    [Fact]
    public async Task Switching_moves_the_schema_from_polling_to_cdc_and_back_and_refuses_while_a_polling_relay_runs()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("mig_switch");
        await using var source = NpgsqlDataSource.Create(database);
        await using var services = MigrationDb.BuildServices(database);
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration(withModel: true).CreateOutboxSchema(OutboxCommitOrder.Trigger));
        }

        // The create line for the CDC kind keeps an existing trigger, as EnsureSchemaOnStart does.
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration().CreateOutboxSchema(OutboxCommitOrder.WriteAheadLog));
        }

        Assert.True(await HasTriggerAsync(source));

        // A polling relay instance is live: the trigger stays, the migration fails with a message that says why.
        await using (var live = source.CreateCommand("INSERT INTO outbox.lanes_instances (instance_id, expires_at) VALUES ('relay-1', now() + interval '1 hour')"))
        {
            await live.ExecuteNonQueryAsync();
        }

        await using (var db = NewContext(services))
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => db.ApplyAsync(db.NewMigration().SwitchOutboxCommitOrder(OutboxCommitOrder.WriteAheadLog)));
            Assert.Equal("OB002", error.SqlState);
            Assert.Contains("A polling relay still runs", error.MessageText, StringComparison.Ordinal);
        }

        Assert.True(await HasTriggerAsync(source));

        // Once it stopped (a stopped relay deletes its row; an expired one counts as stopped too), the switch drops it.
        await using (var stopped = source.CreateCommand("UPDATE outbox.lanes_instances SET expires_at = now() - interval '1 second'"))
        {
            await stopped.ExecuteNonQueryAsync();
        }

        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration().SwitchOutboxCommitOrder(OutboxCommitOrder.WriteAheadLog));
        }

        Assert.False(await HasTriggerAsync(source));
        await WriteAsync(services, 4);
        Assert.Equal(4L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NULL"));

        // Back to polling: the trigger again, and the rows written without it numbered.
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration().SwitchOutboxCommitOrder(OutboxCommitOrder.Trigger));
        }

        Assert.True(await HasTriggerAsync(source));
        Assert.Equal(0L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NULL"));
        await WriteAsync(services, 1);
        Assert.Equal(5L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NOT NULL"));
    }

    [Fact]
    public async Task Switching_to_polling_refuses_rows_of_unknown_commit_order_unless_write_order_is_accepted()
    {
        var serverOptions = new PostgresServerOptions();
        serverOptions.Settings["track_commit_timestamp"] = "off";
        await using var server = await PostgresServer.StartAsync(serverOptions);
        Assert.True(server.Kind != PostgresServerKind.Environment, "This test needs a server of its own with track_commit_timestamp = off.");
        var database = await server.CreateDatabaseAsync("mig_nots");
        await using var source = NpgsqlDataSource.Create(database);
        await using var services = MigrationDb.BuildServices(database);
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration(withModel: true).CreateOutboxSchema(OutboxCommitOrder.WriteAheadLog));
        }

        // One key written by two transactions without the trigger, and no commit timestamps: their order is unknown.
        await using (var db = NewContext(services))
        {
            db.Outbox().Add(new MigrationTestEvent("same", 0));
            await db.SaveChangesAsync();
            db.Outbox().Add(new MigrationTestEvent("same", 1));
            await db.SaveChangesAsync();
        }

        await using (var db = NewContext(services))
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => db.ApplyAsync(db.NewMigration().SwitchOutboxCommitOrder(OutboxCommitOrder.Trigger)));
            Assert.Equal("OB001", error.SqlState);
            Assert.Contains("1 key(s)", error.MessageText, StringComparison.Ordinal);
        }

        Assert.False(await HasTriggerAsync(source), "The refused migration rolled back the trigger with it.");
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration().SwitchOutboxCommitOrder(OutboxCommitOrder.Trigger, unknownCommitOrder: OutboxUnknownCommitOrder.WriteOrder));
        }

        Assert.True(await HasTriggerAsync(source));
        Assert.Equal(0L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NULL"));
        Assert.Equal(1L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages a JOIN outbox.messages b ON a.id < b.id AND a.commit_seq < b.commit_seq"));
    }

    [Fact]
    public async Task Down_drops_the_whole_schema_and_up_applies_again()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("mig_down");
        await using var source = NpgsqlDataSource.Create(database);
        await using var services = MigrationDb.BuildServices(database);
        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration(withModel: true).CreateOutboxSchema());
        }

        await WriteAsync(services, 1);
        await using (var db = NewContext(services))
        {
            // Down as scaffolded (DropTable of the model's tables) with the line first.
            var down = db.NewMigration().DropOutboxSchema();
            down.Operations.AddRange(db.ModelOperations(down: true));
            await db.ApplyAsync(down);
        }

        Assert.Empty(await DescribeOutboxSchemaAsync(source));
        Assert.Equal(0L, await ScalarAsync(source, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'outbox'"));

        await using (var db = NewContext(services))
        {
            await db.ApplyAsync(db.NewMigration(withModel: true).CreateOutboxSchema());
        }

        await WriteAsync(services, 1);
        Assert.Equal(1L, await ScalarAsync(source, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NOT NULL"));
    }

    [Fact]
    public async Task Custom_names_are_created_and_options_other_than_the_models_are_refused()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("mig_names");
        await using var source = NpgsqlDataSource.Create(database);
        void Custom(OutboxOptions o)
        {
            o.Schema = "app_events";
            o.MessagesTable = "events";
            o.LanesTable = "event_lanes";
            o.InboxTable = "handled";
        }

        var options = new OutboxOptions();
        Custom(options);
        await using var services = MigrationDb.BuildServices(database, Custom);
        await using (var db = NewContext(services))
        {
            var error = Assert.Throws<OutboxConfigurationException>(() => db.NewMigration(withModel: true).CreateOutboxSchema());
            Assert.Contains("\"app_events\".\"events\"", error.Message, StringComparison.Ordinal);
            Assert.Contains("the same OutboxOptions", error.Message, StringComparison.Ordinal);

            await db.ApplyAsync(db.NewMigration(withModel: true).CreateOutboxSchema(options: options));
        }

        await WriteAsync(services, 2);
        Assert.Equal(2L, await ScalarAsync(source, "SELECT count(*) FROM app_events.events WHERE commit_seq IS NOT NULL"));
        Assert.Equal(64L, await ScalarAsync(source, "SELECT count(*) FROM app_events.event_lanes"));
        Assert.Equal(1L, await ScalarAsync(source, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'app_events' AND table_name = 'handled_parked'"));
    }

    [Fact]
    public void The_line_refuses_another_provider()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new MigrationBuilder("Microsoft.EntityFrameworkCore.SqlServer").CreateOutboxSchema());
        Assert.Contains("PostgreSQL", error.Message, StringComparison.Ordinal);
    }

    private static MigrationDb NewContext(IServiceProvider services) =>
        services.CreateScope().ServiceProvider.GetRequiredService<MigrationDb>();

    /// <summary>Writes <paramref name="count"/> business rows with one event each through SaveChanges.</summary>
    private static async Task WriteAsync(IServiceProvider services, int count)
    {
        await using var db = NewContext(services);
        for (var i = 0; i < count; i++)
        {
            db.Watches.Add(new MigrationWatch { Id = Guid.NewGuid(), Title = "t" + i });
            db.Outbox().Add(new MigrationTestEvent("k" + i, i));
            await db.SaveChangesAsync();
        }
    }

    /// <summary>Events only (the database has no business table yet).</summary>
    private static async Task WriteEventsOnlyAsync(IServiceProvider services, NpgsqlDataSource source, int count)
    {
        var writer = services.GetRequiredService<OutboxWriter>();
        await using var connection = await source.OpenConnectionAsync();
        for (var i = 0; i < count; i++)
        {
            await writer.EnqueueAsync(connection, null, new MigrationTestEvent("k" + i, i));
        }
    }

    private static async Task<List<string>> DescribeOutboxSchemaAsync(NpgsqlDataSource source)
    {
        var objects = new List<string>();
        await using var command = source.CreateCommand("""
            SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' ELSE c.relkind::text END || ' ' || c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'outbox'
            UNION ALL
            SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'outbox' AND NOT t.tgisinternal
            UNION ALL
            SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'outbox'
            ORDER BY 1
            """);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            objects.Add(reader.GetString(0));
        }

        return objects;
    }

    private static async Task<bool> HasTriggerAsync(NpgsqlDataSource source) =>
        await ScalarAsync(source, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox.messages'::regclass AND tgname = 'messages_commit_seq'") == 1;

    private static async Task<long> ScalarAsync(NpgsqlDataSource source, string sql)
    {
        await using var command = source.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
