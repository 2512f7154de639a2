using Microsoft.EntityFrameworkCore;

namespace Outbox.IntegrationTests.WritePath;

public sealed class ConcurrentWritersTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Sixteen_concurrent_writers_commit_every_event_once_with_distinct_commit_sequences()
    {
        const int writers = 16;
        const int perWriter = 50;
        var expected = new System.Collections.Concurrent.ConcurrentBag<string>();

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                await using var db = fixture.NewContext();
                var account = new Account { Id = Guid.NewGuid(), Name = $"w{w}-{i}" };
                account.Raise(new AccountOpened(account.Id, account.Name));
                account.Raise(new AccountRenamed(account.Id, account.Name, 1));
                db.Accounts.Add(account);
                await db.SaveChangesAsync();
                expected.Add(account.Id.ToString());
            }
        })));

        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(writers * perWriter * 2, rows.Count);
        Assert.Equal(rows.Count, rows.Select(r => r.Id).Distinct().Count());
        Assert.All(rows, r => Assert.NotNull(r.CommitSequence));
        Assert.Equal(rows.Count, rows.Select(r => r.CommitSequence).Distinct().Count());
        Assert.Equal(expected.Order(), rows.Select(r => r.AggregateId).Distinct().Order());

        // Within each aggregate, the opened event precedes the renamed one.
        foreach (var group in rows.GroupBy(r => r.AggregateId))
        {
            Assert.Equal([nameof(AccountOpened), nameof(AccountRenamed)], group.OrderBy(r => r.CommitSequence).Select(r => r.Type));
        }
    }
}
