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
/// id) in an ordinary table (baseline). Goal: ratio at most 1.15, at most 2 KB allocated per event.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class SaveChangesBenchmarks
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private MicroDatabase _database = null!;
    private ServiceProvider _services = null!;
    private DbContextOptions<BankDb> _outboxOptions = null!;
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

        using (var dataSource = NpgsqlDataSource.Create(cs))
        {
            OutboxSchema.EnsureCreatedAsync(dataSource, new OutboxOptions()).GetAwaiter().GetResult();
        }

        _database.Execute(BankDb.CreateTables);

        // Warm the models and connection pools of both shapes.
        EntitiesWithPlainEventRows().GetAwaiter().GetResult();
        EntitiesWithOutboxEvents().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
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

    private static Account NewAccount(int i) => new() { Id = Guid.CreateVersion7(), Owner = "owner-" + i, Balance = 100m + i };
}
