using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Outbox.PostgreSql;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// Write path, EF Core: <c>SaveChangesAsync</c> of N new entities that each raise one event, through the outbox
/// interceptor, against the same entities plus an equivalent plain row written by hand (serialized payload, UUIDv7
/// id) in an ordinary table (baseline). Goal: ratio at most 1.15, at most 2 KB allocated per event. Two more
/// methods: the outbox with the schema of the CDC relay and Debezium (<see cref="OutboxCommitOrder.WriteAheadLog"/>,
/// no commit-order trigger), and the entities alone.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class SaveChangesBenchmarks
{
    private const string NoTriggerSchema = "outbox_wal";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private MicroDatabase _database = null!;
    private ServiceProvider _services = null!;
    private ServiceProvider _noTriggerServices = null!;
    private DbContextOptions<BankDb> _outboxOptions = null!;
    private DbContextOptions<BankDb> _noTriggerOptions = null!;
    private DbContextOptions<BankDb> _plainOptions = null!;

    [Params(1, 100)]
    public int Entities { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _database = MicroDatabase.Create("bench_savechanges");
        var cs = _database.ConnectionString;
        _services = new ServiceCollection()
            .AddOutbox(o => o.MapEvent<AccountOpened>("account", e => e.AccountId.ToString()))
            .UsePostgreSql(cs)
            .Services.BuildServiceProvider();
        var outboxBuilder = new DbContextOptionsBuilder<BankDb>().UseNpgsql(cs);
        outboxBuilder.UseOutbox(_services);
        _outboxOptions = outboxBuilder.Options;
        _plainOptions = new DbContextOptionsBuilder<BankDb>().UseNpgsql(cs).Options;

        // The same outbox in another schema created for the CDC relay and Debezium: no commit-order trigger (the
        // polling relay needs it for per-key order; the WAL gives that order to the others).
        _noTriggerServices = new ServiceCollection()
            .AddOutbox(o =>
            {
                o.Schema = NoTriggerSchema;
                o.MapEvent<AccountOpened>("account", e => e.AccountId.ToString());
            })
            .UsePostgreSql(cs)
            .Services.BuildServiceProvider();
        var noTriggerBuilder = new DbContextOptionsBuilder<BankDb>().UseNpgsql(cs);
        noTriggerBuilder.UseOutbox(_noTriggerServices);
        _noTriggerOptions = noTriggerBuilder.Options;

        using (var dataSource = NpgsqlDataSource.Create(cs))
        {
            OutboxSchema.EnsureCreatedAsync(dataSource, new OutboxOptions()).GetAwaiter().GetResult();
            _database.Execute(OutboxSchema.CreateScript(new OutboxOptions { Schema = NoTriggerSchema }, OutboxCommitOrder.WriteAheadLog));
        }

        _database.Execute(BankDb.CreateTables);

        // Warm the models and connection pools of both shapes.
        EntitiesWithPlainEventRows().GetAwaiter().GetResult();
        EntitiesWithOutboxEvents().GetAwaiter().GetResult();
        EntitiesWithOutboxEventsNoCommitTrigger().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _noTriggerServices.Dispose();
        _database.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public async Task<int> EntitiesWithPlainEventRows()
    {
        await using var db = new BankDb(_plainOptions);
        for (var i = 0; i < Entities; i++)
        {
            var account = NewAccount(i);
            var evt = new AccountOpened(account.Id, account.Owner, account.Balance, "EUR");
            db.Accounts.Add(account);
            db.PlainEvents.Add(new PlainEventRow
            {
                Id = Guid.CreateVersion7(),
                AggregateType = "account",
                AggregateId = account.Id.ToString(),
                Type = nameof(AccountOpened),
                Payload = JsonSerializer.Serialize(evt, Json),
                CreatedAt = DateTimeOffset.UtcNow,
            });
        }

        return await db.SaveChangesAsync();
    }

    [Benchmark]
    public async Task<int> EntitiesWithOutboxEvents()
    {
        await using var db = new BankDb(_outboxOptions);
        for (var i = 0; i < Entities; i++)
        {
            var account = NewAccount(i);
            account.Raise(new AccountOpened(account.Id, account.Owner, account.Balance, "EUR"));
            db.Accounts.Add(account);
        }

        return await db.SaveChangesAsync();
    }

    /// <summary><see cref="EntitiesWithOutboxEvents"/> with the CDC/Debezium schema: no commit-order trigger (its UPDATE and NOTIFY at COMMIT).</summary>
    [Benchmark]
    public async Task<int> EntitiesWithOutboxEventsNoCommitTrigger()
    {
        await using var db = new BankDb(_noTriggerOptions);
        for (var i = 0; i < Entities; i++)
        {
            var account = NewAccount(i);
            account.Raise(new AccountOpened(account.Id, account.Owner, account.Balance, "EUR"));
            db.Accounts.Add(account);
        }

        return await db.SaveChangesAsync();
    }

    [Benchmark]
    public async Task<int> EntitiesOnly()
    {
        await using var db = new BankDb(_plainOptions);
        for (var i = 0; i < Entities; i++)
        {
            db.Accounts.Add(NewAccount(i));
        }

        return await db.SaveChangesAsync();
    }

    /// <summary>Diagnostic (profile only): the entities alone through an outbox-configured context, no events: the interceptors' fixed cost.</summary>
    public async Task<int> EntitiesOnlyThroughOutboxContext()
    {
        await using var db = new BankDb(_outboxOptions);
        for (var i = 0; i < Entities; i++)
        {
            db.Accounts.Add(NewAccount(i));
        }

        return await db.SaveChangesAsync();
    }

    private static Account NewAccount(int i) => new() { Id = Guid.CreateVersion7(), Owner = "owner-" + i, Balance = 100m + i };
}
