using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;
using Outbox.ChaosTests.Model;
using Outbox.PostgreSql;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// <c>writer --cs CS --writer N [--concurrency C] [--keys K] [--delay-ms D] [--seed S] [--parent PID]</c>: concurrent
/// transactions on shared aggregates. Each bumps the versions of one or two aggregates (row locks), records one event
/// per bump through EF Core (<c>dbContext.Outbox()</c>) or ADO.NET (<see cref="OutboxWriter"/>), and records the same
/// events in the writer's own table, in the same transaction. About 15% are rolled back on purpose. Stops when the
/// parent closes standard input, then prints its <see cref="WriterStats"/>.
/// </summary>
public static class WriterRole
{
    private static readonly string[] Notes = ["", "plain ascii", "é ü ß", "✓ ✗ →", "😀 emoji", "\"quotes\" and \\ backslashes", "<tag>&amp;</tag>"];

    public static async Task<int> RunAsync(RoleArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var writer = args.Number("writer", 1);
        var concurrency = args.Number("concurrency", 4);
        var keys = args.Number("keys", 200);
        var delay = TimeSpan.FromMilliseconds(args.Number("delay-ms", 5));
        var seed = args.Number("seed", 1);
        var cs = ConnectionStrings.WithApplicationName(args.Required("cs"), "writer-" + writer);
        var stop = ParentWatch.Start(args.OptionalInt("parent"));

        var services = new ServiceCollection();
        services.AddLogging(RoleHost.ConfigureLogging);
        services.AddDbContext<ChaosDb>((sp, db) => db.UseNpgsql(cs).UseOutbox(sp).AddInterceptors(new OutboxRowCapture()));
        services.AddOutbox(ChaosEvent.Map).UsePostgreSql(cs);
        await using var provider = services.BuildServiceProvider();
        await using var dataSource = NpgsqlDataSource.Create(cs);
        var context = new WriterContext(writer, keys, Math.Min(5, keys), provider, dataSource, provider.GetRequiredService<OutboxWriter>(), new WriterStats());

        // Warm up (JIT, EF Core's model and query caches) before saying ready, so that the faults meet a writer at speed.
        var warmUp = new Random(seed);
        foreach (var adoNet in new[] { false, true })
        {
            var keyList = new List<string> { ChaosSchema.Key(warmUp.Next(keys)) };
            var plan = new TransactionPlan([(keyList[0], 1)], adoNet, TransactionEnding.Commit);
            _ = adoNet ? await WriteWithAdoNetAsync(context, plan, keyList, warmUp) : await WriteWithEfCoreAsync(context, plan, keyList, warmUp);
            context.Stats.Committed(1);
        }

        await Console.Out.WriteLineAsync(RoleHost.ReadyLine);
        await Console.Out.FlushAsync(CancellationToken.None);
        var loops = Enumerable.Range(0, concurrency)
            .Select(i => Task.Run(() => LoopAsync(context, new Random(Orchestration.ChaosSettings.Mix(seed, (writer * 1000) + i)), delay, stop), CancellationToken.None))
            .ToList();
        await Task.WhenAll(loops);
        await Console.Out.WriteLineAsync(context.Stats.Format());
        await Console.Out.FlushAsync(CancellationToken.None);
        return 0;
    }

    private static async Task LoopAsync(WriterContext context, Random random, TimeSpan delay, CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            if (ParentWatch.Paused)
            {
                // The consumers are far behind: let them catch up, so that the quiet period stays short on a busy machine.
                await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None);
                continue;
            }

            var plan = TransactionPlan.Next(random, context.Keys, context.HotKeys);
            var events = plan.Keys.SelectMany(k => Enumerable.Repeat(k.Key, k.Events)).ToList();
            try
            {
                // No cancellation inside a transaction: a stop lets the one in flight finish.
                var committed = plan.AdoNet
                    ? await WriteWithAdoNetAsync(context, plan, events, random)
                    : await WriteWithEfCoreAsync(context, plan, events, random);
                if (committed)
                {
                    context.Stats.Committed(events.Count);
                }
                else
                {
                    context.Stats.RolledBack(events.Count);
                }

                failures = 0;
            }
            catch (CommitOutcomeUnknownException)
            {
                context.Stats.Uncertain();
            }
            catch (Exception ex)
            {
                // The database restarts under the writers: expected. The writer tables say what committed.
                context.Stats.Failed();
                if (failures++ == 0)
                {
                    await Console.Error.WriteLineAsync($"writer {context.Writer}: transaction failed: {ex.GetType().Name}: {ex.Message}");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * failures)), CancellationToken.None);
            }

            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, CancellationToken.None);
            }
        }
    }

    private static async Task<bool> WriteWithEfCoreAsync(WriterContext context, TransactionPlan plan, List<string> keys, Random random)
    {
        await using var scope = context.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ChaosDb>();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var events = new List<ChaosEvent>(keys.Count);
        foreach (var key in keys)
        {
            var version = (await db.Database
                    .SqlQuery<long>($"UPDATE chaos.aggregates SET version = version + 1 WHERE id = {key} RETURNING version AS \"Value\"")
                    .ToListAsync())
                .Single();
            var evt = new ChaosEvent(Guid.NewGuid(), key, version, context.Writer, Note(random));
            db.Outbox().Add(evt);
            events.Add(evt);
        }

        await db.SaveChangesAsync();

        // The outbox rows SaveChanges just wrote, by the event they carry.
        var outboxIds = new Dictionary<Guid, Guid>();
        foreach (var row in db.CapturedOutboxRows)
        {
            using var payload = JsonDocument.Parse(row.Payload);
            outboxIds[payload.RootElement.GetProperty("chaosId").GetGuid()] = row.Id;
        }

        // An event without an outbox row keeps a null outbox id: the checks then show the write path lost it.
        await db.Database.ExecuteSqlRawAsync(
            InsertWrittenSql(context.Writer),
            WrittenParameters(events, events.Select(e => outboxIds.TryGetValue(e.ChaosId, out var id) ? id : (Guid?)null).ToList()));
        return await EndAsync(plan.Ending, () => transaction.CommitAsync(), () => transaction.RollbackAsync(), () => db.Database.ExecuteSqlRawAsync("SELECT 1/0"));
    }

    private static async Task<bool> WriteWithAdoNetAsync(WriterContext context, TransactionPlan plan, List<string> keys, Random random)
    {
        await using var connection = await context.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var events = new List<ChaosEvent>(keys.Count);
        foreach (var key in keys)
        {
            await using var bump = new NpgsqlCommand("UPDATE chaos.aggregates SET version = version + 1 WHERE id = $1 RETURNING version", connection, transaction);
            bump.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
            var version = (long)(await bump.ExecuteScalarAsync())!;
            events.Add(new ChaosEvent(Guid.NewGuid(), key, version, context.Writer, Note(random)));
        }

        var outboxIds = events.Count == 1
            ? [await context.OutboxWriter.EnqueueAsync(connection, transaction, events[0])]
            : await context.OutboxWriter.EnqueueBatchAsync(connection, transaction, events);

        await using (var written = new NpgsqlCommand(InsertWrittenSql(context.Writer), connection, transaction))
        {
            written.Parameters.AddRange(WrittenParameters(events, outboxIds.Select(id => (Guid?)id).ToList()));
            await written.ExecuteNonQueryAsync();
        }

        return await EndAsync(plan.Ending, () => transaction.CommitAsync(), () => transaction.RollbackAsync(), async () =>
        {
            await using var fail = new NpgsqlCommand("SELECT 1/0", connection, transaction);
            return await fail.ExecuteNonQueryAsync();
        });
    }

    /// <returns><see langword="true"/> when the transaction committed.</returns>
    private static async Task<bool> EndAsync(TransactionEnding ending, Func<Task> commit, Func<Task> rollback, Func<Task<int>> fail)
    {
        switch (ending)
        {
            case TransactionEnding.Rollback:
                await rollback();
                return false;
            case TransactionEnding.Fail:
                try
                {
                    await fail();
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DivisionByZero)
                {
                    // Disposing the failed transaction rolls it back.
                    return false;
                }

                throw new InvalidOperationException("SELECT 1/0 did not fail.");
            default:
                try
                {
                    await commit();
                }
                catch (Exception ex)
                {
                    throw new CommitOutcomeUnknownException(ex);
                }

                return true;
        }
    }

    private static string InsertWrittenSql(int writer) =>
        $"INSERT INTO {ChaosSchema.WrittenTable(writer)} (chaos_id, aggregate_id, version, outbox_id) SELECT * FROM unnest(@ids, @keys, @versions, @outbox_ids)";

    private static NpgsqlParameter[] WrittenParameters(List<ChaosEvent> events, IReadOnlyList<Guid?> outboxIds) =>
    [
        new("outbox_ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = outboxIds.ToArray() },
        new("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = events.Select(e => e.ChaosId).ToArray() },
        new("keys", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = events.Select(e => e.Key).ToArray() },
        new("versions", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = events.Select(e => e.Version).ToArray() },
    ];

    private static string Note(Random random)
    {
        var note = new StringBuilder(Notes[random.Next(Notes.Length)]);
        var padding = random.Next(0, 300);
        note.Append('.', padding);
        return note.ToString();
    }

    private sealed record WriterContext(int Writer, int Keys, int HotKeys, IServiceProvider Services, NpgsqlDataSource DataSource, OutboxWriter OutboxWriter, WriterStats Stats);

    private sealed class CommitOutcomeUnknownException(Exception inner) : Exception("The commit failed; it may or may not have committed.", inner);
}
