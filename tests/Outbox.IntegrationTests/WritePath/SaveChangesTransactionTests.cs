using System.Diagnostics;
using System.Transactions;
using Microsoft.EntityFrameworkCore;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>Outbox rows commit with the business change, in every transaction shape EF Core offers, or not at all.</summary>
public sealed class SaveChangesTransactionTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Implicit_transaction_writes_entity_and_event_together_and_clears_the_event()
    {
        await using var db = fixture.NewContext();
        var account = NewAccount("implicit");

        await db.SaveChangesAsync();

        var rows = await fixture.ReadOutboxAsync();
        var row = Assert.Single(rows);
        Assert.Equal("account", row.AggregateType);
        Assert.Equal(account.Id.ToString(), row.AggregateId);
        Assert.Equal(nameof(AccountOpened), row.Type);
        Assert.Contains("\"name\": \"implicit\"", row.Payload, StringComparison.Ordinal);
        Assert.NotNull(row.CommitSequence);
        Assert.Equal(LaneHash.Compute(row.AggregateId, 64), row.Lane);
        Assert.Empty(account.DomainEvents);
        Assert.Empty(db.ChangeTracker.Entries<OutboxMessage>());

        // A second SaveChanges with nothing new writes nothing again.
        await db.SaveChangesAsync();
        Assert.Single(await fixture.ReadOutboxAsync());

        Account NewAccount(string name)
        {
            var a = new Account { Id = Guid.NewGuid(), Name = name };
            a.Raise(new AccountOpened(a.Id, name));
            db.Accounts.Add(a);
            return a;
        }
    }

    [Fact]
    public async Task Explicit_transaction_with_several_SaveChanges_commits_every_event_once()
    {
        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        var account = new Account { Id = Guid.NewGuid(), Name = "explicit" };
        account.Raise(new AccountOpened(account.Id, account.Name));
        db.Accounts.Add(account);
        await db.SaveChangesAsync();

        account.Name = "explicit-2";
        account.Raise(new AccountRenamed(account.Id, account.Name, 2));
        db.Outbox().Add(new AccountRenamed(account.Id, "via-outbox", 3));
        await db.SaveChangesAsync();

        // Not committed yet: the events stay on the entity until the transaction commits.
        Assert.Equal(2, account.DomainEvents.Count);
        Assert.Single(db.Outbox().Pending);
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));

        await tx.CommitAsync();

        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(3, rows.Count);
        Assert.Equal([nameof(AccountOpened), nameof(AccountRenamed), nameof(AccountRenamed)], rows.Select(r => r.Type));
        Assert.Empty(account.DomainEvents);
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Explicit_transaction_rolled_back_writes_nothing_and_keeps_events_pending()
    {
        await using var db = fixture.NewContext();
        var account = new Account { Id = Guid.NewGuid(), Name = "rollback" };
        account.Raise(new AccountOpened(account.Id, account.Name));
        db.Accounts.Add(account);

        await using (var tx = await db.Database.BeginTransactionAsync())
        {
            await db.SaveChangesAsync();
            await tx.RollbackAsync();
        }

        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM accounts"));
        Assert.Single(account.DomainEvents);

        // The app retries in a new transaction: the event is written exactly once.
        db.ChangeTracker.Clear();
        db.Accounts.Add(account);
        await using (var tx = await db.Database.BeginTransactionAsync())
        {
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }

        Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Empty(account.DomainEvents);
    }

    [Fact]
    public async Task TransactionScope_commit_writes_and_rollback_does_not()
    {
        var committed = new Account { Id = Guid.NewGuid(), Name = "scope-commit" };
        committed.Raise(new AccountOpened(committed.Id, committed.Name));
        using (var scope = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await using var db = fixture.NewContext();
            db.Accounts.Add(committed);
            await db.SaveChangesAsync();
            Assert.Single(committed.DomainEvents);
            scope.Complete();
        }

        var rolledBack = new Account { Id = Guid.NewGuid(), Name = "scope-rollback" };
        rolledBack.Raise(new AccountOpened(rolledBack.Id, rolledBack.Name));
        using (new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await using var db = fixture.NewContext();
            db.Accounts.Add(rolledBack);
            await db.SaveChangesAsync();
        }

        var row = Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Equal(committed.Id.ToString(), row.AggregateId);
        Assert.Empty(committed.DomainEvents);
        Assert.Single(rolledBack.DomainEvents);
    }

    [Fact]
    public async Task Failed_SaveChanges_writes_no_rows_and_a_retry_writes_each_event_once()
    {
        await using (var seed = fixture.NewContext())
        {
            seed.Accounts.Add(new Account { Id = Guid.NewGuid(), Name = "taken" });
            await seed.SaveChangesAsync();
        }

        await using var db = fixture.NewContext();
        var account = new Account { Id = Guid.NewGuid(), Name = "taken" };
        account.Raise(new AccountOpened(account.Id, account.Name));
        db.Outbox().Add(new AccountRenamed(account.Id, "explicit", 1));
        db.Accounts.Add(account);

        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        Assert.Equal(0, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
        Assert.Single(account.DomainEvents);
        Assert.Single(db.Outbox().Pending);
        Assert.Empty(db.ChangeTracker.Entries<OutboxMessage>());

        account.Name = "free";
        await db.SaveChangesAsync();
        await db.SaveChangesAsync();

        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(2, rows.Count);
        Assert.Equal(2, rows.Select(r => r.Id).Distinct().Count());
        Assert.Empty(account.DomainEvents);
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Failed_SaveChanges_inside_an_explicit_transaction_rolls_back_to_EFs_savepoint_and_retries_once()
    {
        await using (var seed = fixture.NewContext())
        {
            seed.Accounts.Add(new Account { Id = Guid.NewGuid(), Name = "dup" });
            await seed.SaveChangesAsync();
        }

        await using var db = fixture.NewContext();
        await using var tx = await db.Database.BeginTransactionAsync();
        var first = new Account { Id = Guid.NewGuid(), Name = "first" };
        first.Raise(new AccountOpened(first.Id, first.Name));
        db.Accounts.Add(first);
        await db.SaveChangesAsync();

        var second = new Account { Id = Guid.NewGuid(), Name = "dup" };
        second.Raise(new AccountOpened(second.Id, second.Name));
        db.Accounts.Add(second);
        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());

        second.Name = "second";
        await db.SaveChangesAsync();
        await tx.CommitAsync();

        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal([first.Id.ToString(), second.Id.ToString()], rows.Select(r => r.AggregateId));
    }

    [Fact]
    public async Task Events_of_one_SaveChanges_keep_their_order()
    {
        await using var db = fixture.NewContext();
        var account = new Account { Id = Guid.NewGuid(), Name = "ordered" };
        db.Accounts.Add(account);
        for (var i = 0; i < 200; i++)
        {
            if (i % 2 == 0)
            {
                account.Raise(new AccountRenamed(account.Id, "n", i));
            }
            else
            {
                db.Outbox().Add(new AccountRenamed(account.Id, "n", i));
            }
        }

        await db.SaveChangesAsync();

        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(200, rows.Count);

        // Entity events come in the order raised, explicit events in the order added; each sequence stays ordered by commit_seq.
        var sequences = rows.Select(r => System.Text.Json.JsonDocument.Parse(r.Payload).RootElement.GetProperty("sequence").GetInt32()).ToList();
        Assert.Equal(sequences.Where(s => s % 2 == 0).Order(), sequences.Where(s => s % 2 == 0));
        Assert.Equal(sequences.Where(s => s % 2 == 1).Order(), sequences.Where(s => s % 2 == 1));
    }

    [Fact]
    public async Task Trace_context_of_the_current_activity_is_stored()
    {
        using var source = new ActivitySource("Outbox.IntegrationTests");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "Outbox.IntegrationTests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var activity = source.StartActivity("request")!;
        activity.TraceStateString = "vendor=1";

        await using var db = fixture.NewContext();
        db.Outbox().Add(new AccountOpened(Guid.NewGuid(), "traced"));
        await db.SaveChangesAsync();

        var row = Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Equal(activity.Id, row.TraceParent);
        Assert.Equal("vendor=1", await fixture.ScalarTextAsync("SELECT tracestate FROM outbox.messages"));
    }
}
