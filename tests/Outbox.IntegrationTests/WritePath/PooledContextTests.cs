using System.Transactions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>
/// DbContext pooling (<c>AddDbContextPool</c>) reuses context instances: the outbox state of one lease must never leak
/// into the next, and events written by a lease must still be cleared when its transaction commits later.
/// </summary>
public sealed class PooledContextTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Events_added_by_an_abandoned_lease_are_not_written_by_the_next_lease()
    {
        await using var services = BuildPooledServices();
        ShopDb first;
        await using (var scope = services.CreateAsyncScope())
        {
            first = scope.ServiceProvider.GetRequiredService<ShopDb>();
            first.Outbox().Add(new AccountOpened(Guid.NewGuid(), "abandoned"));
            Assert.Single(first.Outbox().Pending);

            // The request fails before SaveChanges: the context goes back to the pool with the event unsaved.
        }

        var account = new Account { Id = Guid.NewGuid(), Name = "next-lease" };
        account.Raise(new AccountOpened(account.Id, account.Name));
        await using (var scope = services.CreateAsyncScope())
        {
            var second = scope.ServiceProvider.GetRequiredService<ShopDb>();
            Assert.Same(first, second);
            Assert.Empty(second.Outbox().Pending);
            second.Accounts.Add(account);
            await second.SaveChangesAsync();
        }

        var row = Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Equal(account.Id.ToString(), row.AggregateId);
        Assert.Empty(account.DomainEvents);
    }

    [Fact]
    public async Task Every_lease_writes_its_events_exactly_once()
    {
        await using var services = BuildPooledServices();
        var accounts = new List<Account>();
        for (var i = 0; i < 20; i++)
        {
            var account = new Account { Id = Guid.NewGuid(), Name = "lease-" + i };
            account.Raise(new AccountOpened(account.Id, account.Name));
            accounts.Add(account);
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ShopDb>();
            db.Accounts.Add(account);
            db.Outbox().Add(new AccountRenamed(account.Id, "explicit", i));
            await db.SaveChangesAsync();
            Assert.Empty(db.Outbox().Pending);
        }

        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(40, rows.Count);
        Assert.Equal(40, rows.Select(r => r.Id).Distinct().Count());
        foreach (var account in accounts)
        {
            Assert.Equal(2, rows.Count(r => r.AggregateId == account.Id.ToString()));
            Assert.Empty(account.DomainEvents);
        }
    }

    [Fact]
    public async Task A_lease_returned_before_its_TransactionScope_completes_still_clears_its_events_on_commit()
    {
        await using var services = BuildPooledServices();
        var committed = new Account { Id = Guid.NewGuid(), Name = "scope-outlives-lease" };
        committed.Raise(new AccountOpened(committed.Id, committed.Name));
        using (var transaction = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<ShopDb>();
                db.Accounts.Add(committed);
                await db.SaveChangesAsync();
            }

            // The context is back in the pool; the transaction has not completed yet.
            Assert.Single(committed.DomainEvents);
            transaction.Complete();
        }

        Assert.Empty(committed.DomainEvents);

        // The next lease starts clean and its own transaction is tracked on its own.
        var next = new Account { Id = Guid.NewGuid(), Name = "after" };
        next.Raise(new AccountOpened(next.Id, next.Name));
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ShopDb>();
            db.Accounts.Add(next);
            await db.SaveChangesAsync();
        }

        Assert.Empty(next.DomainEvents);
        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(2, rows.Count);
        Assert.Single(rows, r => r.AggregateId == committed.Id.ToString());
        Assert.Single(rows, r => r.AggregateId == next.Id.ToString());
    }

    private ServiceProvider BuildPooledServices()
    {
        var services = new ServiceCollection();
        services.AddOutbox(ShopFixture.ConfigureOutbox).UsePostgreSql(fixture.ConnectionString);
        services.AddDbContextPool<ShopDb>((sp, b) => b.UseNpgsql(fixture.ConnectionString).UseOutbox(sp), poolSize: 1);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }
}
