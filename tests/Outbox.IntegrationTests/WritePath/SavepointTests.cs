using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>
/// Rollbacks to savepoints inside a user transaction: events whose rows a rollback removed are written again, events whose
/// rows survived are not written twice, and after the commit nothing written and surviving stays pending. EF Core does not
/// report savepoint names, so after a rollback the context asks the database which of its rows still exist; without a
/// rollback it asks nothing.
/// </summary>
public sealed class SavepointTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Rolling_back_to_an_older_savepoint_past_a_newer_one_writes_both_events_again()
    {
        // SAVEPOINT a; Add(e1); SaveChanges; SAVEPOINT b; Add(e2); SaveChanges; ROLLBACK TO a; SaveChanges; COMMIT
        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        await tx.CreateSavepointAsync("a");
        db.Outbox().Add(Event("e1"));
        await db.SaveChangesAsync();
        await tx.CreateSavepointAsync("b");
        db.Outbox().Add(Event("e2"));
        await db.SaveChangesAsync();
        await tx.RollbackToSavepointAsync("a");

        // Both rows are gone: both events are pending again and this save writes them.
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        Assert.Equal(["e1", "e2"], await NamesAsync());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Rolling_back_to_an_older_savepoint_past_a_newer_one_writes_both_events_again_synchronously()
    {
        // The synchronous API takes the synchronous paths of the interceptors.
        using var db = fixture.NewContext();
        using var tx = db.Database.BeginTransaction();
        tx.CreateSavepoint("a");
        db.Outbox().Add(Event("e1"));
        db.SaveChanges();
        tx.CreateSavepoint("b");
        db.Outbox().Add(Event("e2"));
        db.SaveChanges();
        tx.RollbackToSavepoint("a");
        db.SaveChanges();
        tx.Commit();

        Assert.Equal(["e1", "e2"], await NamesAsync());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Nested_savepoints_rolled_back_to_the_inner_one_rewrite_only_its_events()
    {
        await using var db = fixture.NewContext();
        var account = new Account { Id = Guid.NewGuid(), Name = "nested" };
        db.Accounts.Add(account);
        await using var tx = await db.Database.BeginTransactionAsync();
        await db.SaveChangesAsync();

        await tx.CreateSavepointAsync("outer");
        account.Raise(Event("e1"));
        db.Outbox().Add(Event("x1"));
        await db.SaveChangesAsync();
        await tx.CreateSavepointAsync("inner");
        account.Raise(Event("e2"));
        db.Outbox().Add(Event("x2"));
        await db.SaveChangesAsync();
        await tx.RollbackToSavepointAsync("inner");
        await db.SaveChangesAsync();

        // A second save in the same transaction writes nothing again.
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        Assert.Equal(["e1", "e2", "x1", "x2"], (await NamesAsync()).Order());
        Assert.Empty(account.DomainEvents);
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Nested_savepoints_rolled_back_to_the_inner_then_the_outer_one_rewrite_everything_since_the_outer()
    {
        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        db.Outbox().Add(Event("before"));
        await db.SaveChangesAsync();
        await tx.CreateSavepointAsync("outer");
        db.Outbox().Add(Event("e1"));
        await db.SaveChangesAsync();
        await tx.CreateSavepointAsync("inner");
        db.Outbox().Add(Event("e2"));
        await db.SaveChangesAsync();
        await tx.RollbackToSavepointAsync("inner");
        await tx.RollbackToSavepointAsync("outer");
        db.Outbox().Add(Event("e3"));
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        Assert.Equal(["before", "e1", "e2", "e3"], await NamesAsync());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Sibling_savepoints_rolled_back_one_after_another_lose_nothing_and_write_nothing_twice()
    {
        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        await tx.CreateSavepointAsync("first");
        db.Outbox().Add(Event("e1"));
        await db.SaveChangesAsync();
        await tx.ReleaseSavepointAsync("first");

        await tx.CreateSavepointAsync("second");
        db.Outbox().Add(Event("e2"));
        await db.SaveChangesAsync();
        await tx.RollbackToSavepointAsync("second");
        await tx.ReleaseSavepointAsync("second");

        await tx.CreateSavepointAsync("third");
        db.Outbox().Add(Event("e3"));
        await db.SaveChangesAsync();
        await tx.RollbackToSavepointAsync("third");
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        Assert.Equal(["e1", "e2", "e3"], (await NamesAsync()).Order());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task A_savepoint_name_used_twice_rolls_back_to_the_newer_one_only()
    {
        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        await tx.CreateSavepointAsync("s");
        db.Outbox().Add(Event("e1"));
        await db.SaveChangesAsync();
        await tx.CreateSavepointAsync("s");
        db.Outbox().Add(Event("e2"));
        await db.SaveChangesAsync();

        // PostgreSQL rolls back to the newest savepoint of that name: e1's row survives and must not be written again.
        await tx.RollbackToSavepointAsync("s");
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        Assert.Equal(["e1", "e2"], (await NamesAsync()).Order());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Commit_right_after_a_rollback_to_a_savepoint_keeps_the_rolled_back_events_pending()
    {
        await using var db = fixture.NewContext();
        var survivor = Event("survivor");
        var rolledBack = Event("rolled-back");
        await using (var tx = await db.Database.BeginTransactionAsync())
        {
            db.Outbox().Add(survivor);
            await db.SaveChangesAsync();
            await tx.CreateSavepointAsync("a");
            db.Outbox().Add(rolledBack);
            await db.SaveChangesAsync();
            await tx.RollbackToSavepointAsync("a");
            await tx.CommitAsync();
        }

        Assert.Equal(["survivor"], await NamesAsync());
        Assert.Equal([rolledBack], db.Outbox().Pending);

        await db.SaveChangesAsync();
        Assert.Equal(["rolled-back", "survivor"], (await NamesAsync()).Order());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Failed_SaveChanges_rolls_back_to_EFs_own_savepoint_and_the_retry_and_commit_write_each_event_once()
    {
        await using (var seed = fixture.NewContext())
        {
            seed.Accounts.Add(new Account { Id = Guid.NewGuid(), Name = "taken" });
            await seed.SaveChangesAsync();
        }

        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        await tx.CreateSavepointAsync("user");
        db.Outbox().Add(Event("e1"));
        await db.SaveChangesAsync();

        // EF wraps this SaveChanges in its own savepoint and rolls back to it when the insert fails.
        var account = new Account { Id = Guid.NewGuid(), Name = "taken" };
        account.Raise(Event("e2"));
        db.Accounts.Add(account);
        db.Outbox().Add(Event("e3"));
        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());

        account.Name = "free";
        await db.SaveChangesAsync();
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        Assert.Equal(["e1", "e2", "e3"], (await NamesAsync()).Order());
        Assert.Empty(account.DomainEvents);
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Failed_SaveChanges_then_a_rollback_to_a_user_savepoint_rewrites_what_the_user_savepoint_removed()
    {
        await using (var seed = fixture.NewContext())
        {
            seed.Accounts.Add(new Account { Id = Guid.NewGuid(), Name = "taken" });
            await seed.SaveChangesAsync();
        }

        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        db.Outbox().Add(Event("e0"));
        await db.SaveChangesAsync();
        await tx.CreateSavepointAsync("user");
        db.Outbox().Add(Event("e1"));
        await db.SaveChangesAsync();

        var account = new Account { Id = Guid.NewGuid(), Name = "taken" };
        account.Raise(Event("e2"));
        db.Accounts.Add(account);
        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        account.Name = "free";
        await db.SaveChangesAsync();

        await tx.RollbackToSavepointAsync("user");
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        Assert.Equal(["e0", "e1", "e2"], (await NamesAsync()).Order());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Without_a_rollback_to_a_savepoint_no_query_is_added_and_after_one_a_single_query_checks_the_rows()
    {
        using var statements = new StatementRecorder();
        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        await tx.CreateSavepointAsync("a");
        db.Outbox().Add(Event("e1"));
        await db.SaveChangesAsync();
        await tx.ReleaseSavepointAsync("a");
        await tx.CreateSavepointAsync("b");
        db.Outbox().Add(Event("e2"));
        await db.SaveChangesAsync();
        await db.SaveChangesAsync();
        Assert.Equal(0, statements.RowChecks);

        await tx.RollbackToSavepointAsync("b");
        Assert.Equal(0, statements.RowChecks);
        await db.SaveChangesAsync();
        Assert.Equal(1, statements.RowChecks);

        // Checked once: neither the next save nor the commit asks again.
        await db.SaveChangesAsync();
        await tx.CommitAsync();
        Assert.Equal(1, statements.RowChecks);
        Assert.Equal(["e1", "e2"], await NamesAsync());

        // An implicit transaction never asks.
        db.Outbox().Add(Event("e3"));
        await db.SaveChangesAsync();
        Assert.Equal(1, statements.RowChecks);
    }

    internal static AccountOpened Event(string name) => new(Guid.NewGuid(), name);

    /// <summary>The names of the committed events, in commit order.</summary>
    private async Task<List<string>> NamesAsync() =>
        (await fixture.ReadOutboxAsync())
            .Select(r => System.Text.Json.JsonDocument.Parse(r.Payload).RootElement.GetProperty("name").GetString()!)
            .ToList();

    /// <summary>Counts the statements Npgsql sends that check which outbox rows exist (Npgsql traces every command).</summary>
    internal sealed class StatementRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<string> _statements = new();

        public StatementRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = s => s.Name == "Npgsql",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = a =>
                {
                    foreach (var tag in a.TagObjects)
                    {
                        if (tag.Value is string text
                            && (tag.Key.Contains("statement", StringComparison.Ordinal) || tag.Key.Contains("query.text", StringComparison.Ordinal)))
                        {
                            _statements.Enqueue(text);
                        }
                    }
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public int RowChecks => _statements.Count(s => s.StartsWith("SELECT \"id\" FROM \"outbox\".\"messages\" WHERE \"id\" = ANY", StringComparison.Ordinal));

        public IReadOnlyCollection<string> Statements => _statements;

        public void Dispose() => _listener.Dispose();
    }
}
