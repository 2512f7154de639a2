using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>
/// Names PostgreSQL derives from the options (sequence, trigger, function, indexes, the pg_notify channel, the
/// instances table) must fit its 63 bytes: longer ones are refused before any DDL runs, and the longest accepted ones
/// work end to end.
/// </summary>
public sealed class DerivedNameTests
{
    // The longest names the outbox accepts: each makes a derived name of exactly 63 bytes.
    private static readonly string LongestSchema = "s_" + new string('s', 16);                   // schema + "." + table = 63 (pg_notify channel)
    private static readonly string LongestMessagesTable = "m_" + new string('m', 42);            // ix_<table>_lane_commit_seq = 63
    private static readonly string LongestLanesTable = "l_" + new string('l', 51);               // <lanes>_instances = 63
    private static readonly string LongestInboxTable = "i_" + new string('i', 47);               // ix_<inbox>_handled_at = 63
    private static readonly string LongestDeadLettersTable = "d_" + new string('d', 61);
    private static readonly string LongestInboxOffsetsTable = "o_" + new string('o', 61);

    private sealed class OutboxOnlyDb(DbContextOptions<OutboxOnlyDb> options) : DbContext(options);

    private static void Longest(OutboxOptions o)
    {
        o.Schema = LongestSchema;
        o.MessagesTable = LongestMessagesTable;
        o.LanesTable = LongestLanesTable;
        o.InboxTable = LongestInboxTable;
        o.DeadLettersTable = LongestDeadLettersTable;
        o.InboxOffsetsTable = LongestInboxOffsetsTable;
    }

    [Theory]
    [InlineData(63, 0)]   // a valid identifier: <table>_commit_seq was cut to the table's own name, the table was skipped
    [InlineData(53, 0)]   // the trigger's name was cut: the polling relay reported the trigger missing
    [InlineData(33, 30)]  // schema + table = 64 bytes with the dot: pg_notify failed every commit
    public async Task Names_whose_derived_names_are_too_long_are_refused_before_any_DDL(int tableLength, int schemaLength)
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("names_long");
        await using var source = NpgsqlDataSource.Create(database);
        var options = new OutboxOptions { MessagesTable = new string('m', tableLength) };
        if (schemaLength > 0)
        {
            options.Schema = new string('s', schemaLength);
        }

        var ex = await Assert.ThrowsAsync<OutboxConfigurationException>(() => OutboxSchema.EnsureCreatedAsync(source, options));

        Assert.Contains("OutboxOptions.MessagesTable", ex.Message, StringComparison.Ordinal);
        await using var command = source.CreateCommand("SELECT count(*) FROM pg_namespace WHERE nspname = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = options.Schema });
        Assert.Equal(0L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task The_longest_accepted_names_work_end_to_end()
    {
        var database = await SharedInfrastructure.CreateDatabaseAsync("names_max");
        var kafka = await SharedInfrastructure.KafkaAsync();
        var topicPrefix = "names-" + Guid.NewGuid().ToString("N")[..12];

        // A host configured like an application: options validated at start, schema created on start, polling relay.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Services.AddDbContext<OutboxOnlyDb>((sp, db) => db.UseNpgsql(database).UseOutbox(sp));
        builder.Services.AddOutbox(o =>
            {
                Longest(o);
                o.TopicTemplate = topicPrefix + "." + OutboxOptions.AggregateTypePlaceholder;
                o.MapEvent<AccountOpened>("account", e => e.AccountId.ToString());
            })
            .UsePostgreSql(database, o => o.EnsureSchemaOnStart = true)
            .UseKafka(k => k.BootstrapServers = kafka.BootstrapServers)
            .AddPollingRelay(o => o.PollInterval = TimeSpan.FromMinutes(5)); // only the notification wakes it in time
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            await using var source = NpgsqlDataSource.Create(database);
            var channel = LongestSchema + "." + LongestMessagesTable;
            Assert.Equal(63, channel.Length);

            // Every derived object exists under its full name (none was cut).
            Assert.Equal(1L, await CountAsync(source, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'S'", LongestSchema, LongestMessagesTable + "_commit_seq"));
            Assert.Equal(1L, await CountAsync(source, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'i'", LongestSchema, "ix_" + LongestMessagesTable + "_lane_commit_seq"));
            Assert.Equal(1L, await CountAsync(source, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'i'", LongestSchema, "ix_" + LongestInboxTable + "_handled_at"));
            Assert.Equal(1L, await CountAsync(source, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'", LongestSchema, LongestLanesTable + "_instances"));
            Assert.Equal(1L, await CountAsync(source, "SELECT count(*) FROM pg_trigger WHERE tgname = $1", LongestMessagesTable + "_commit_seq"));

            // A row written and committed: the deferred trigger numbers it and notifies the channel.
            await using var listener = await source.OpenConnectionAsync();
            var notified = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            listener.Notification += (_, e) => notified.TrySetResult(e.Channel);
            await using (var listen = new NpgsqlCommand($"LISTEN \"{channel}\"", listener))
            {
                await listen.ExecuteNonQueryAsync();
            }

            var writer = host.Services.GetRequiredService<OutboxWriter>();
            Guid id;
            await using (var connection = await source.OpenConnectionAsync())
            await using (var tx = await connection.BeginTransactionAsync())
            {
                id = await writer.EnqueueAsync(connection, tx, new AccountOpened(Guid.NewGuid(), "longest names"));
                await tx.CommitAsync();
            }

            using (var waitCts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (!notified.Task.IsCompleted)
                {
                    await listener.WaitAsync(waitCts.Token);
                }
            }

            Assert.Equal(channel, await notified.Task);

            // Through EF too (the model's primary key and index names are the derived ones).
            await using (var scope = host.Services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<OutboxOnlyDb>();
                db.Outbox().Add(new AccountOpened(Guid.NewGuid(), "through EF"));
                await db.SaveChangesAsync();
            }

            // The polling relay (which checks the trigger at start) publishes both and deletes the rows.
            var messages = $"\"{LongestSchema}\".\"{LongestMessagesTable}\"";
            await Eventually.TrueAsync(
                async () => await CountAsync(source, $"SELECT count(*) FROM {messages}") == 0,
                "the relay published and deleted both rows",
                TimeSpan.FromSeconds(90));
            Assert.NotEqual(Guid.Empty, id);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static async Task<long> CountAsync(NpgsqlDataSource source, string sql, params string[] parameters)
    {
        await using var command = source.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = p });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
