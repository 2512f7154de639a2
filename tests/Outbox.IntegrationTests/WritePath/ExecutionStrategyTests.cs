using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>With Npgsql's retrying execution strategy and a transient failure at commit, each event is written exactly once.</summary>
public sealed class ExecutionStrategyTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Transient_failure_at_commit_is_retried_and_each_event_is_written_once()
    {
        var failOnce = new FailFirstCommits(1);
        await using var services = ShopFixture.BuildServices(
            fixture.ConnectionString,
            b => b.UseNpgsql(fixture.ConnectionString, n => n.EnableRetryOnFailure(3, TimeSpan.FromMilliseconds(10), null))
                  .AddInterceptors(failOnce));
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ShopDb>();

        var account = new Account { Id = Guid.NewGuid(), Name = "retried" };
        account.Raise(new AccountOpened(account.Id, account.Name));
        db.Outbox().Add(new AccountRenamed(account.Id, "retried", 1));
        db.Accounts.Add(account);
        await db.SaveChangesAsync();

        Assert.Equal(1, failOnce.Failures);
        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(2, rows.Count);
        Assert.Equal(1, await fixture.ScalarAsync("SELECT count(*) FROM accounts"));
        Assert.Empty(account.DomainEvents);
    }

    [Fact]
    public async Task User_transaction_inside_the_strategy_is_replayed_and_each_event_is_written_once()
    {
        var failOnce = new FailFirstCommits(1);
        await using var services = ShopFixture.BuildServices(
            fixture.ConnectionString,
            b => b.UseNpgsql(fixture.ConnectionString, n => n.EnableRetryOnFailure(3, TimeSpan.FromMilliseconds(10), null))
                  .AddInterceptors(failOnce));
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ShopDb>();
        var account = new Account { Id = Guid.NewGuid(), Name = "strategy" };
        account.Raise(new AccountOpened(account.Id, account.Name));

        await db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            db.ChangeTracker.Clear();
            db.Accounts.Add(account);
            await using var tx = await db.Database.BeginTransactionAsync();
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        });

        Assert.Equal(1, failOnce.Failures);
        Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Empty(account.DomainEvents);
    }

    /// <summary>Throws a transient Npgsql error instead of the first commits, as a dropped connection would.</summary>
    private sealed class FailFirstCommits(int count) : DbTransactionInterceptor
    {
        private readonly int _count = count;
        private int _remaining = count;

        public int Failures => _count - Math.Max(_remaining, 0);

        public override ValueTask<InterceptionResult> TransactionCommittingAsync(
            DbTransaction transaction, TransactionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Decrement(ref _remaining) >= 0)
            {
                throw new NpgsqlException("Injected transient failure at commit", new TimeoutException("injected"));
            }

            return ValueTask.FromResult(result);
        }
    }
}
