using System.Reflection;
using System.Runtime.Loader;
using System.Xml.Linq;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Cdc;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Migrations;

/// <summary>
/// The migration path as a user walks it, with the real <c>dotnet ef</c> tool (the repository's local tool manifest):
/// a new application (generated from Migrations/Template into a temporary folder, referencing the outbox projects by
/// path), <c>dotnet ef migrations add</c>, the documented line added to the scaffolded migration, then
/// <c>Database.MigrateAsync()</c> on a fresh database and the polling relay publishing what <c>SaveChanges</c> wrote;
/// then a second scaffolded migration with the switch line, applied, and the CDC relay publishing. One project, built
/// once and compiled again after each migration. Not in the CDC collection (its builds would hold the CDC tests up): it
/// streams on the shared server, from a slot of its own that it drops.
/// </summary>
public sealed class EfCoreMigrationsRoundTripTests(ITestOutputHelper output)
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private const int Partitions = 4;
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(8);

    [Fact]
    public async Task Migrations_add_then_MigrateAsync_creates_the_whole_schema_and_a_second_migration_switches_from_polling_to_cdc()
    {
        var repository = FindRepositoryRoot();
        var app = Path.Combine(Path.GetTempPath(), "outbox-ef-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(app);
        NpgsqlDataSource? dataSource = null;
        var slot = "";
        try
        {
            var project = WriteApplication(repository, app);
            var kafka = await SharedInfrastructure.KafkaAsync();
            var database = await SharedInfrastructure.CreateDatabaseAsync("ef_roundtrip");
            var prefix = "ef-" + Guid.NewGuid().ToString("N")[..12];
            var topic = prefix + ".migration";
            slot = "it_efmig_" + Guid.NewGuid().ToString("N")[..12];
            await kafka.CreateTopicAsync(topic, Partitions);
            dataSource = NpgsqlDataSource.Create(database);
            void ConfigureOutbox(OutboxOptions o)
            {
                o.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
                o.MapEvent<MigrationTestEvent>("migration", e => e.Key);
            }

            // What the user does: restore the tool, scaffold, add the line, build.
            Log(await DotnetCommand.RunAsync(repository, BuildTimeout, "tool", "restore"));
            Log(await DotnetCommand.RunAsync(app, BuildTimeout, "build", project, "-c", Configuration, "-nodeReuse:false", "-p:UseSharedCompilation=false"));
            Log(await DotnetCommand.RunAsync(repository, BuildTimeout, "ef", "migrations", "add", "Initial", "--project", project, "--no-build", "--configuration", Configuration));
            var initial = AddLines(app, "Initial",
                up: "migrationBuilder.CreateOutboxSchema(OutboxCommitOrder.Trigger);",
                down: "migrationBuilder.DropOutboxSchema();");
            Assert.Contains("CreateTable(", initial, StringComparison.Ordinal);
            Log(await DotnetCommand.RunAsync(app, BuildTimeout, RebuildArguments(project)));

            await using var writerServices = BuildWriterServices(database, ConfigureOutbox);
            var first = LoadApplication(app, "first");
            await using (var db = first.NewContext(database, writerServices))
            {
                await db.Database.MigrateAsync();
                Assert.Equal(["Initial"], (await db.Database.GetAppliedMigrationsAsync()).Select(m => m[(m.IndexOf('_', StringComparison.Ordinal) + 1)..]));
            }

            Assert.Equal(1L, await ScalarAsync(dataSource, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox.messages'::regclass AND tgname = 'messages_commit_seq'"));
            Assert.Equal(64L, await ScalarAsync(dataSource, "SELECT count(*) FROM outbox.lanes"));
            Assert.Equal(1L, await ScalarAsync(dataSource, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'outbox' AND table_name = 'inbox_offsets'"));

            var written = await first.WriteAsync(database, writerServices, "polling", 20);
            using (var polling = BuildRelayHost(database, kafka, ConfigureOutbox, "polling", b => b.AddPollingRelay(o =>
                   {
                       o.PollInterval = TimeSpan.FromMilliseconds(500);
                       o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                   })))
            {
                await polling.StartAsync();
                await Eventually.TrueAsync(async () => await ScalarAsync(dataSource, "SELECT count(*) FROM outbox.messages") == 0, "the polling relay published every row");
                await polling.StopAsync();
            }

            Assert.Equal(written.Order(), CdcHarness.ReadAll(kafka, topic, Partitions).Select(r => r.Id).Order());

            // The switch: a second scaffolded migration (the model did not change) with one line in Up and one in Down.
            Log(await DotnetCommand.RunAsync(repository, BuildTimeout, "ef", "migrations", "add", "SwitchToCdc", "--project", project, "--no-build", "--configuration", Configuration));
            AddLines(app, "SwitchToCdc",
                up: "migrationBuilder.SwitchOutboxCommitOrder(OutboxCommitOrder.WriteAheadLog);",
                down: "migrationBuilder.SwitchOutboxCommitOrder(OutboxCommitOrder.Trigger);");
            Log(await DotnetCommand.RunAsync(app, BuildTimeout, RebuildArguments(project)));

            var second = LoadApplication(app, "second");
            await using (var db = second.NewContext(database, writerServices))
            {
                Assert.Equal(["SwitchToCdc"], (await db.Database.GetPendingMigrationsAsync()).Select(m => m[(m.IndexOf('_', StringComparison.Ordinal) + 1)..]));
                await db.Database.MigrateAsync();
            }

            Assert.Equal(0L, await ScalarAsync(dataSource, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox.messages'::regclass AND tgname = 'messages_commit_seq'"));

            var cdcWritten = await second.WriteAsync(database, writerServices, "cdc", 20);
            Assert.Equal(20L, await ScalarAsync(dataSource, "SELECT count(*) FROM outbox.messages WHERE commit_seq IS NULL"));
            using (var cdc = BuildRelayHost(database, kafka, ConfigureOutbox, "cdc", b => b.AddCdcRelay(o =>
                   {
                       o.SlotName = slot;
                       o.AcknowledgeInterval = TimeSpan.FromMilliseconds(100);
                   })))
            {
                await cdc.StartAsync();
                try
                {
                    await Eventually.TrueAsync(
                        () => CdcHarness.ReadAll(kafka, topic, Partitions).Count >= written.Count + cdcWritten.Count, "the CDC relay published the rows written after the switch");
                }
                finally
                {
                    await cdc.StopAsync();
                }
            }

            Assert.Equal(written.Concat(cdcWritten).Order(), CdcHarness.ReadAll(kafka, topic, Partitions).Select(r => r.Id).Order());
        }
        finally
        {
            if (dataSource is not null)
            {
                await using (var drop = dataSource.CreateCommand("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active"))
                {
                    drop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = slot });
                    await drop.ExecuteNonQueryAsync();
                }

                await dataSource.DisposeAsync();
            }

            try
            {
                Directory.Delete(app, recursive: true);
            }
            catch (IOException ex)
            {
                output.WriteLine($"{app} not deleted: {ex.Message}");
            }
        }
    }

    private void Log(string line) => output.WriteLine(line);

    /// <summary>After a migration was added, only the application itself changed: no restore, no referenced project.</summary>
    private static string[] RebuildArguments(string project) =>
        ["build", project, "-c", Configuration, "--no-restore", "--no-dependencies", "-nodeReuse:false", "-p:UseSharedCompilation=false"];

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Outbox.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Outbox.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>Writes the application from the template, with the versions the repository pins; returns the project file.</summary>
    private static string WriteApplication(string repository, string app)
    {
        var versions = XDocument.Load(Path.Combine(repository, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
        var template = Path.Combine(AppContext.BaseDirectory, "Migrations", "Template");
        var project = Path.Combine(app, "MigrationsApp.csproj");
        File.WriteAllText(project, File.ReadAllText(Path.Combine(template, "App.csproj.txt"))
            .Replace("{{OutboxPostgreSqlProject}}", Path.Combine(repository, "src", "Outbox.PostgreSql", "Outbox.PostgreSql.csproj"), StringComparison.Ordinal)
            .Replace("{{NpgsqlEfVersion}}", versions["Npgsql.EntityFrameworkCore.PostgreSQL"], StringComparison.Ordinal)
            .Replace("{{EfCoreVersion}}", versions["Microsoft.EntityFrameworkCore.Relational"], StringComparison.Ordinal));
        File.Copy(Path.Combine(template, "App.cs.txt"), Path.Combine(app, "App.cs"));
        return project;
    }

    /// <summary>Adds the documented lines to the scaffolded migration <paramref name="name"/>: last in Up, first in Down.</summary>
    private static string AddLines(string app, string name, string up, string down)
    {
        var file = Directory.GetFiles(Path.Combine(app, "Migrations"), "*_" + name + ".cs").Single();
        var code = File.ReadAllText(file);
        const string upStart = "protected override void Up(MigrationBuilder migrationBuilder)";
        const string downStart = "protected override void Down(MigrationBuilder migrationBuilder)";
        var upBody = code.IndexOf('{', code.IndexOf(upStart, StringComparison.Ordinal));
        var upEnd = code.IndexOf("\n        }", upBody, StringComparison.Ordinal);
        code = code[..upEnd] + "\n            " + up + code[upEnd..];
        var downBody = code.IndexOf('{', code.IndexOf(downStart, StringComparison.Ordinal));
        code = code[..(downBody + 1)] + "\n            " + down + code[(downBody + 1)..];
        code = "using Outbox.PostgreSql;\n" + code;
        File.WriteAllText(file, code);
        return code;
    }

    private static ServiceProvider BuildWriterServices(string database, Action<OutboxOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddOutbox(configure).UsePostgreSql(database);
        return services.BuildServiceProvider();
    }

    private IHost BuildRelayHost(string database, KafkaServer kafka, Action<OutboxOptions> configure, string name, Action<IOutboxBuilder> relay)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, name));
        relay(builder.Services.AddOutbox(configure).UsePostgreSql(database).UseKafka(k =>
        {
            k.BootstrapServers = kafka.BootstrapServers;
            k.FlushTimeout = TimeSpan.FromSeconds(2);
        }));
        return builder.Build();
    }

    private static ScaffoldedApplication LoadApplication(string app, string name)
    {
        var dll = Path.Combine(app, "bin", Configuration, "net10.0", "MigrationsApp.dll");

        // A context of its own per build (the assembly name stays the same); its references (EF Core, Npgsql, the outbox)
        // resolve to the test's own copies, so the test drives the application's context with its types.
        var context = new AssemblyLoadContext("migrations-app-" + name);
        using var stream = new MemoryStream(File.ReadAllBytes(dll));
        return new ScaffoldedApplication(context.LoadFromStream(stream));
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource source, string sql)
    {
        await using var command = source.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The scaffolded application's context and entity, through reflection (the test cannot reference them).</summary>
    private sealed class ScaffoldedApplication(Assembly assembly)
    {
        private readonly Type _context = assembly.GetType("MigrationsApp.AppDb", throwOnError: true)!;
        private readonly Type _watch = assembly.GetType("MigrationsApp.Watch", throwOnError: true)!;

        public DbContext NewContext(string database, IServiceProvider services)
        {
            var options = (DbContextOptionsBuilder)Activator.CreateInstance(typeof(DbContextOptionsBuilder<>).MakeGenericType(_context))!;
            options.UseNpgsql(database).UseOutbox(services);
            return (DbContext)Activator.CreateInstance(_context, options.Options)!;
        }

        /// <summary>Saves <paramref name="count"/> business rows, each with one event, through SaveChanges; returns the event ids.</summary>
        public async Task<List<Guid>> WriteAsync(string database, IServiceProvider services, string key, int count)
        {
            await using var db = NewContext(database, services);
            for (var i = 0; i < count; i++)
            {
                var watch = Activator.CreateInstance(_watch)!;
                _watch.GetProperty("Id")!.SetValue(watch, Guid.NewGuid());
                _watch.GetProperty("Title")!.SetValue(watch, key + i);
                db.Add(watch);
                db.Outbox().Add(new MigrationTestEvent(key + (i % 4), i));
                await db.SaveChangesAsync();
            }

            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id FROM outbox.messages WHERE aggregateid LIKE $1", connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key + "%" });
            var ids = new List<Guid>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetGuid(0));
            }

            Assert.Equal(count, ids.Count);
            return ids;
        }
    }
}
