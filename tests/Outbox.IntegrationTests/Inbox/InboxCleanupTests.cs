using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Outbox.Inbox;
using Outbox.Providers;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxCleanupTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Cleanup_deletes_the_groups_rows_older_than_the_retention_and_keeps_offsets()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var services = new ServiceCollection();
        services.AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId)).UsePostgreSql(harness.ConnectionString);
        services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(harness.ConnectionString).UseOutbox(sp));
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<IInboxStore>();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

        async Task AddAsync(string group, string id, long offset)
        {
            await using var scope = provider.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<InboxTestDb>();
            await using var tx = await db.Database.BeginTransactionAsync();
            var fresh = await store.AddAsync(db, new InboxPosition(group, "t", 0, offset + 1), [new InboxEntry(id, offset)], time.GetUtcNow(), default);
            Assert.Contains(id, fresh);
            await tx.CommitAsync();
        }

        await AddAsync("g1", "old-1", 0);
        await AddAsync("g1", "old-2", 1);
        await AddAsync("g2", "other-group-old", 0);
        time.Advance(TimeSpan.FromDays(6));
        await AddAsync("g1", "recent", 2);
        time.Advance(TimeSpan.FromDays(1) + TimeSpan.FromHours(1));

        var cleanup = new InboxCleanupService(provider.GetRequiredService<IServiceScopeFactory>(), store, "g1", typeof(InboxTestDb),
            TimeSpan.FromDays(7), TimeSpan.FromHours(1), time, NullLogger.Instance);
        Assert.Equal(2, await cleanup.RunOnceAsync(default));

        Assert.Equal(0, await harness.ScalarAsync("SELECT count(*) FROM outbox.inbox WHERE message_id LIKE 'old-%'"));
        Assert.Equal(1, await harness.ScalarAsync("SELECT count(*) FROM outbox.inbox WHERE message_id = 'recent'"));
        Assert.Equal(1, await harness.ScalarAsync("SELECT count(*) FROM outbox.inbox WHERE consumer_group = 'g2'"));
        Assert.Equal(3, await harness.ScalarAsync("SELECT next_offset FROM outbox.inbox_offsets WHERE consumer_group = 'g1'"));

        // A duplicate of a deleted row is new again for the dedup table: the stored offsets are what stop replays.
        await AddAsync("g1", "old-1", 0);
    }

    [Fact]
    public async Task Cleanup_loop_runs_every_interval_on_the_time_provider()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var services = new ServiceCollection();
        services.AddOutbox(o => o.MapEvent<MovieStarted>("movie", e => e.UserId)).UsePostgreSql(harness.ConnectionString);
        services.AddDbContext<InboxTestDb>((sp, db) => db.UseNpgsql(harness.ConnectionString).UseOutbox(sp));
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<IInboxStore>();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await harness.ExecuteAsync("INSERT INTO outbox.inbox VALUES ('g', 'a', 't', 0, 0, '2026-01-01T00:00:00Z')");

        using var cleanup = new InboxCleanupService(provider.GetRequiredService<IServiceScopeFactory>(), store, "g", typeof(InboxTestDb),
            TimeSpan.FromDays(1), TimeSpan.FromHours(1), time, NullLogger.Instance);
        await cleanup.StartAsync(default);
        try
        {
            // The first run (at start) finds nothing old enough; a day and an interval later the next run deletes it.
            time.Advance(TimeSpan.FromDays(1) - TimeSpan.FromHours(1));
            await Eventually.TrueAsync(async () =>
            {
                time.Advance(TimeSpan.FromHours(1));
                return await harness.ScalarAsync("SELECT count(*) FROM outbox.inbox") == 0;
            }, "the cleanup loop deleted the old row");
        }
        finally
        {
            await cleanup.StopAsync(default);
        }
    }
}
