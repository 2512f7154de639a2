using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.Cli;
using Outbox.IntegrationTests.Cdc;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.IntegrationTests.Inbox;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Security;

/// <summary>
/// docs/security.md: its <c>sql</c> blocks, run as they are (role names made unique) on a fresh database, are all the
/// privileges each component needs. Each component then runs as a login role that is a member of its role alone.
/// On the CDC tests' server and in their collection: the CDC relay takes a replication slot.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed partial class LeastPrivilegeTests(ITestOutputHelper output)
{
    private const string AggregateType = "account";
    private const string Password = "pw";
    private const string Group = "security";
    private const string PoisonKey = AccountOpenedHandler.RefusedAccount;
    private static readonly string[] Roles =
        ["outbox_writer", "outbox_polling_relay", "outbox_cdc_relay", "outbox_replicator", "outbox_debezium", "outbox_consumer", "outbox_operator"];

    [Fact]
    public async Task Every_component_runs_with_the_privileges_docs_security_md_grants()
    {
        var cs = await CdcInfrastructure.CreateDatabaseAsync("security");
        var kafka = await SharedInfrastructure.KafkaAsync();
        await using var admin = NpgsqlDataSource.Create(cs);
        await CdcHarness.DropLeftoverSlotsAsync(admin);
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var prefix = "sec-" + suffix;
        var topic = prefix + "." + AggregateType;
        var slot = CdcHarness.SlotPrefix + "sec_" + suffix;
        await kafka.CreateTopicAsync(topic, 3);
        await OutboxSchema.EnsureCreatedAsync(admin, OutboxOptionsFor(prefix));
        await ExecuteAsync(admin, """
            CREATE SCHEMA app;
            CREATE TABLE app.accounts (id text PRIMARY KEY, sequence integer NOT NULL);
            CREATE TABLE app.handled (event_id text PRIMARY KEY, account_id text NOT NULL);
            """);

        var blocks = RecipeBlocks(RepositoryFiles.Read("docs", "security.md"), suffix, new NpgsqlConnectionStringBuilder(cs).Database!);
        Assert.True(blocks.Count >= 4, $"docs/security.md has {blocks.Count} sql blocks");
        try
        {
            // A hardened database: PostgreSQL's default CONNECT for PUBLIC revoked, so the recipe's own GRANT CONNECT counts.
            await ExecuteAsync(admin, $"REVOKE CONNECT ON DATABASE \"{new NpgsqlConnectionStringBuilder(cs).Database}\" FROM PUBLIC");
            foreach (var block in blocks)
            {
                output.WriteLine(block);
                await ExecuteAsync(admin, block);
            }

            // Login roles, each a member of one component's role; the app's own tables get the app's own grants.
            var writer = await LoginAsync(admin, cs, suffix, "outbox_writer", "GRANT USAGE ON SCHEMA app TO {0}; GRANT SELECT, INSERT, UPDATE ON app.accounts TO {0};");
            var pollingRelay = await LoginAsync(admin, cs, suffix, "outbox_polling_relay");
            var cdcRelay = await LoginAsync(admin, cs, suffix, "outbox_cdc_relay");
            var consumer = await LoginAsync(admin, cs, suffix, "outbox_consumer", "GRANT USAGE ON SCHEMA app TO {0}; GRANT SELECT, INSERT ON app.handled TO {0};");
            var operatorRole = await LoginAsync(admin, cs, suffix, "outbox_operator");
            await ExecuteAsync(admin, $"ALTER ROLE outbox_replicator_{suffix} PASSWORD '{Password}'");
            var replicator = new NpgsqlConnectionStringBuilder(cs) { Username = $"outbox_replicator_{suffix}", Password = Password }.ConnectionString;

            // The writer writes (EF Core SaveChanges, the commit-order trigger at commit, and OutboxWriter).
            await using (var services = WriterServices(writer, prefix))
            {
                await WriteAsync(services, 0, 4);
            }

            // The polling relay publishes them and deletes the rows.
            using (var relay = await StartHostAsync(pollingRelay, prefix, "polling", b => b.AddPollingRelay(o => o.PollInterval = TimeSpan.FromMilliseconds(200))))
            {
                await Eventually.TrueAsync(async () => await ScalarAsync(admin, "SELECT count(*) FROM outbox.messages") == 0, "the polling relay published and deleted every row");
                await relay.StopAsync();
            }

            Assert.Equal(4, DistinctIds(kafka, topic));

            // The CDC relay: rows written before its slot (its backlog) and after it, streamed with the replication role, and
            // a key held for a retry that is due (the relay moves its backlog row back into the outbox table, then releases
            // it: a lock of the outbox table and an insert that fires the commit-order trigger).
            await using (var services = WriterServices(writer, prefix))
            {
                await WriteAsync(services, 4, 3);
                await WriteKeyAsync(services, "held");
                await HoldKeyAsync(admin, "held", parked: false);
                using var relay = await StartHostAsync(cdcRelay, prefix, "cdc", b => b.AddCdcRelay(o =>
                {
                    o.SlotName = slot;
                    o.AcknowledgeInterval = TimeSpan.FromMilliseconds(100);
                    o.InitialRetryDelay = TimeSpan.FromMilliseconds(200);
                    o.MaxRetryDelay = TimeSpan.FromSeconds(2);
                }), postgreSql: o => o.ReplicationConnectionString = replicator);
                await Eventually.TrueAsync(() => CdcHarness.MonitorOf(relay).State == CdcRelayState.Streaming, "the CDC relay streams");
                await WriteAsync(services, 7, 3);
                await Eventually.TrueAsync(() => DistinctIds(kafka, topic) == 11, "the CDC relay published the backlog, the streamed rows and the released key");
                await Eventually.TrueAsync(async () => await ScalarAsync(admin, "SELECT count(*) FROM outbox.messages_parked WHERE released_at_lsn IS NULL") == 0, "the CDC relay released the held key");
                await relay.StopAsync();
            }

            await Eventually.TrueAsync(async () => await ScalarAsync(admin, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active") == 0, "the slot is released");
            await ExecuteAsync(admin, $"SELECT pg_drop_replication_slot('{slot}')");

            // An application in Debezium mode starts with the writer's privileges (the owner created the publication).
            using (var debezium = await StartHostAsync(writer, prefix, "debezium", b => b.UseDebezium(d => d.DatabaseHostname = "postgres")))
            {
                await debezium.StopAsync();
            }

            // The inbox consumer handles every event once, deletes inbox rows past their retention, and parks the record
            // its handler refuses (the operator discards it below, while the consumer runs).
            await ProducePoisonAsync(kafka, topic);
            using var consumerHost = await StartHostAsync(consumer, prefix, "consumer", b => b.AddConsumer<SecurityDb>(Group, c => c
                .Subscribe<AccountOpened, AccountOpenedHandler>()
                .Configure(o =>
                {
                    o.MaxAttempts = 1;
                    o.InboxRetention = TimeSpan.FromSeconds(1);
                    o.CleanupInterval = TimeSpan.FromSeconds(1);
                    o.ParkedCheckInterval = TimeSpan.FromMilliseconds(200);
                })));
            await Eventually.TrueAsync(async () => await ScalarAsync(admin, "SELECT count(*) FROM app.handled") == 11, "the consumer handled every event");
            await Eventually.TrueAsync(async () => await ScalarAsync(admin, "SELECT count(*) FROM outbox.inbox_parked WHERE state = 'parked'") == 1, "the consumer parked the refused record");
            await Eventually.TrueAsync(async () => await ScalarAsync(admin, "SELECT count(*) FROM outbox.inbox") == 0, "the consumer's cleanup deleted the inbox rows past their retention");
            var poisonPartition = await ScalarAsync(admin, "SELECT partition FROM outbox.inbox_parked");

            // The operator: status and lists; a parked key's failed event discarded (to the dead letters), then replayed
            // from the dead letters (back into the outbox, numbered by the commit-order trigger).
            await using (var services = WriterServices(writer, prefix))
            {
                await WriteKeyAsync(services, "parked");
            }

            await HoldKeyAsync(admin, "parked", parked: true);
            foreach (var command in new[]
                     {
                         new[] { "status" }, ["parked", "list"], ["parked", "inbox", "list"], ["dead-letters", "list"],
                         ["parked", "discard", AggregateType, "parked", "--yes"], ["dead-letters", "replay", "--all", "--yes"],
                         ["parked", "inbox", "discard", "--group", Group, "--topic", topic, "--partition", poisonPartition.ToString(CultureInfo.InvariantCulture), "--key", PoisonKey, "--yes"],
                     })
            {
                var (exit, stdout, stderr) = await RunCliAsync([.. command, "--connection", operatorRole, "--topic-template", prefix + ".{aggregatetype}"]);
                output.WriteLine($"$ dotnet outbox {string.Join(' ', command)}\n{stdout}{stderr}");
                Assert.True(exit == 0, $"dotnet outbox {string.Join(' ', command)} as the operator: exit {exit}: {stderr}");
            }

            Assert.Equal(0, await ScalarAsync(admin, "SELECT count(*) FROM outbox.dead_letters"));
            Assert.Equal(1, await ScalarAsync(admin, "SELECT count(*) FROM outbox.messages WHERE aggregateid = 'parked' AND commit_seq IS NOT NULL"));
            await Eventually.TrueAsync(async () => await ScalarAsync(admin, "SELECT count(*) FROM outbox.inbox_parked") == 0, "the consumer dropped the discarded record");
            await consumerHost.StopAsync();
        }
        finally
        {
            await ExecuteAsync(admin, $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT active");
            foreach (var role in Roles.Select(r => $"{r}_{suffix}").Concat(Roles.Select(r => $"login_{r}_{suffix}")))
            {
                await ExecuteAsync(admin, $"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN DROP OWNED BY {role}; DROP ROLE {role}; END IF; END $$");
            }
        }
    }

    /// <summary>The <c>sql</c> blocks of the page, with the role names made unique and the page's database replaced.</summary>
    internal static List<string> RecipeBlocks(string markdown, string suffix, string database) =>
        SqlBlock().Matches(markdown)
            .Select(m => RoleName().Replace(m.Groups[1].Value, r => r.Value + "_" + suffix))
            .Select(sql => sql.Replace("DATABASE appdb", "DATABASE \"" + database + "\"", StringComparison.Ordinal))
            .Where(sql => Regex.Replace(sql, "--[^\n]*", "").Trim().Length > 0)
            .ToList();

    private static OutboxOptions OutboxOptionsFor(string prefix)
    {
        var options = new OutboxOptions();
        Configure(options, prefix);
        return options;
    }

    private static void Configure(OutboxOptions options, string prefix)
    {
        options.TopicTemplate = prefix + "." + OutboxOptions.AggregateTypePlaceholder;
        options.MapEvent<AccountOpened>(AggregateType, e => e.AccountId, nameof(AccountOpened));
    }

    private static ServiceProvider WriterServices(string connectionString, string prefix)
    {
        var services = new ServiceCollection();
        services.AddOutbox(o => Configure(o, prefix)).UsePostgreSql(connectionString);
        services.AddDbContext<SecurityDb>((sp, db) => db.UseNpgsql(connectionString).UseOutbox(sp));
        return services.BuildServiceProvider();
    }

    /// <summary>Writes <paramref name="count"/> events: all but the last with SaveChanges, the last with OutboxWriter.</summary>
    private static async Task WriteAsync(ServiceProvider services, int first, int count)
    {
        for (var i = first; i < first + count - 1; i++)
        {
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<SecurityDb>();
            db.Accounts.Add(new Account { Id = "a" + i.ToString(CultureInfo.InvariantCulture), Sequence = i });
            db.Outbox().Add(new AccountOpened("a" + i.ToString(CultureInfo.InvariantCulture), i));
            await db.SaveChangesAsync();
        }

        var last = first + count - 1;
        var dataSource = services.GetRequiredService<OutboxDataSource>().DataSource;
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO app.accounts (id, sequence) VALUES ($1, $2)", connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "a" + last.ToString(CultureInfo.InvariantCulture) });
            insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = last });
            await insert.ExecuteNonQueryAsync();
        }

        await services.GetRequiredService<OutboxWriter>().EnqueueAsync(connection, transaction, new AccountOpened("a" + last.ToString(CultureInfo.InvariantCulture), last));
        await transaction.CommitAsync();
    }

    /// <summary>A record in the outbox's record shape that the handler refuses.</summary>
    private static async Task ProducePoisonAsync(KafkaServer kafka, string topic)
    {
        using var producer = new Confluent.Kafka.ProducerBuilder<string, string>(new Confluent.Kafka.ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build();
        await producer.ProduceAsync(topic, new Confluent.Kafka.Message<string, string>
        {
            Key = PoisonKey,
            Value = $$"""{"accountId":"{{PoisonKey}}","sequence":0}""",
            Headers = [new("id", System.Text.Encoding.UTF8.GetBytes(Guid.NewGuid().ToString())), new("type", System.Text.Encoding.UTF8.GetBytes(nameof(AccountOpened)))],
        });
    }

    private static async Task WriteKeyAsync(ServiceProvider services, string key)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SecurityDb>();
        db.Accounts.Add(new Account { Id = key, Sequence = 100 });
        db.Outbox().Add(new AccountOpened(key, 100));
        await db.SaveChangesAsync();
    }

    /// <summary>Records the key's waiting event as failed: retrying with the retry due now, or parked for an operator.</summary>
    private static Task HoldKeyAsync(NpgsqlDataSource admin, string key, bool parked) =>
        ExecuteAsync(admin, $"""
            INSERT INTO outbox.messages_parked (aggregatetype, aggregateid, lane, message_id, attempts, last_error, retry_at, parked_at, released_at_lsn, updated_at)
            SELECT aggregatetype, aggregateid, lane, id, 1, 'a failed attempt (test)',
                   {(parked ? "NULL" : "now() - interval '1 second'")}, {(parked ? "now()" : "NULL")}, NULL, now()
            FROM outbox.messages WHERE aggregateid = '{key}'
            """);

    private async Task<IHost> StartHostAsync(
        string connectionString, string prefix, string name, Action<IOutboxBuilder> configure, Action<PostgreSqlOutboxOptions>? postgreSql = null)
    {
        var kafka = await SharedInfrastructure.KafkaAsync();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, name));
        builder.Services.AddDbContext<SecurityDb>((sp, db) => db.UseNpgsql(connectionString).UseOutbox(sp));
        var outbox = builder.Services.AddOutbox(o => Configure(o, prefix)).UsePostgreSql(connectionString, postgreSql);
        outbox.UseKafka(k =>
        {
            k.BootstrapServers = kafka.BootstrapServers;
            k.FlushTimeout = TimeSpan.FromSeconds(2);
            k.Consumer.SessionTimeoutMs = 3000;
            k.Consumer.HeartbeatIntervalMs = 300;
        });
        configure(outbox);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static int DistinctIds(KafkaServer kafka, string topic) =>
        CdcHarness.ReadAll(kafka, topic, 3).Select(r => r.Id).Distinct().Count();

    private static async Task<(int Exit, string Output, string Error)> RunCliAsync(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await OutboxCli.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString().Trim());
    }

    /// <summary>A login role (with a password, for servers with password authentication) in one component's role.</summary>
    private static async Task<string> LoginAsync(NpgsqlDataSource admin, string cs, string suffix, string role, string appGrants = "")
    {
        var login = $"login_{role}_{suffix}";
        await ExecuteAsync(admin, $"CREATE ROLE {login} LOGIN PASSWORD '{Password}' IN ROLE {role}_{suffix}; " + string.Format(CultureInfo.InvariantCulture, appGrants, login));
        return new NpgsqlConnectionStringBuilder(cs) { Username = login, Password = Password }.ConnectionString;
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^```sql\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex SqlBlock();

    [GeneratedRegex(@"\boutbox_(writer|polling_relay|cdc_relay|replicator|debezium|consumer|operator)\b")]
    private static partial Regex RoleName();
}
