using Microsoft.EntityFrameworkCore;
using static Outbox.IntegrationTests.WritePath.SavepointTests;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>
/// Transactions that end without EF Core seeing it: a <c>DbTransaction</c> given to <c>Database.UseTransaction</c> and
/// committed or rolled back on itself, an EF transaction disposed without a commit. The context learns the outcome at its
/// next <c>SaveChanges</c> (or commit) by asking the database which of its rows exist.
/// </summary>
public sealed class ExternalTransactionTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task External_transaction_committed_directly_clears_the_events_at_the_next_SaveChanges_and_writes_them_once()
    {
        await using var db = fixture.NewContext();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var account = new Account { Id = Guid.NewGuid(), Name = "external-commit" };
        account.Raise(Event("entity"));
        var added = Event("added");
        await using (var external = await connection.BeginTransactionAsync())
        {
            await db.Database.UseTransactionAsync(external);
            db.Accounts.Add(account);
            db.Outbox().Add(added);
            await db.SaveChangesAsync();
            await external.CommitAsync();
        }

        await db.Database.UseTransactionAsync(null);
        Assert.Equal(["added", "entity"], (await NamesAsync()).Order());

        // The next save learns that the rows committed: nothing is written again, the events leave their sources.
        await db.SaveChangesAsync();
        Assert.Equal(["added", "entity"], (await NamesAsync()).Order());
        Assert.Empty(account.DomainEvents);
        Assert.Empty(db.Outbox().Pending);

        await db.SaveChangesAsync();
        Assert.Equal(2, (await NamesAsync()).Count);
    }

    [Fact]
    public async Task External_transaction_rolled_back_directly_makes_the_events_pending_and_the_next_SaveChanges_writes_them()
    {
        await using var db = fixture.NewContext();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var account = new Account { Id = Guid.NewGuid(), Name = "external-rollback" };
        account.Raise(Event("entity"));
        await using (var external = await connection.BeginTransactionAsync())
        {
            await db.Database.UseTransactionAsync(external);
            await db.Accounts.AddAsync(account);
            db.Outbox().Add(Event("added"));
            await db.SaveChangesAsync();
            await external.RollbackAsync();
        }

        await db.Database.UseTransactionAsync(null);
        Assert.Empty(await NamesAsync());

        // The business row was rolled back too: the app adds it again, as after any rollback.
        db.ChangeTracker.Clear();
        db.Accounts.Add(account);
        await db.SaveChangesAsync();

        Assert.Equal(["added", "entity"], (await NamesAsync()).Order());
        Assert.Empty(account.DomainEvents);
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task External_transaction_rolled_back_directly_then_a_second_external_transaction_committed_directly_writes_each_event_once()
    {
        await using var db = fixture.NewContext();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        db.Outbox().Add(Event("e1"));
        await using (var first = await connection.BeginTransactionAsync())
        {
            await db.Database.UseTransactionAsync(first);
            await db.SaveChangesAsync();
            await first.RollbackAsync();
        }

        // Npgsql hands out the same DbTransaction object for the connection's next transaction, and EF Core takes
        // UseTransaction with the object it already uses as a no-op: detaching the ended transaction tells EF (and the outbox)
        // that the next one is another transaction.
        await db.Database.UseTransactionAsync(null);
        await using (var second = await connection.BeginTransactionAsync())
        {
            await db.Database.UseTransactionAsync(second);
            db.Outbox().Add(Event("e2"));
            await db.SaveChangesAsync();
            await second.CommitAsync();
        }

        await db.Database.UseTransactionAsync(null);
        await db.SaveChangesAsync();

        // e1 is written again in the second transaction (with the id of its rolled-back row), before e2.
        Assert.Equal(["e1", "e2"], await NamesAsync());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task External_transaction_committed_directly_whose_rows_a_relay_deleted_already_is_written_again_with_the_same_ids()
    {
        await using var db = fixture.NewContext();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        db.Outbox().Add(Event("e1"));
        await using (var external = await connection.BeginTransactionAsync())
        {
            await db.Database.UseTransactionAsync(external);
            await db.SaveChangesAsync();
            await external.CommitAsync();
        }

        await db.Database.UseTransactionAsync(null);
        var published = Assert.Single(await fixture.ReadOutboxAsync());

        // A relay publishes and deletes the row before the context is used again: committed or rolled back cannot be told
        // apart any more, so the event is written again, with its id, which a consumer's inbox drops as a duplicate.
        await fixture.ExecuteAsync("DELETE FROM outbox.messages");
        await db.SaveChangesAsync();

        var rewritten = Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Equal(published.Id, rewritten.Id);
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Transaction_disposed_without_commit_makes_the_events_pending_and_the_next_SaveChanges_writes_them()
    {
        await using var db = fixture.NewContext();
        var added = Event("disposed");
        await using (await db.Database.BeginTransactionAsync())
        {
            db.Outbox().Add(added);
            await db.SaveChangesAsync();

            // No commit, no rollback: disposing rolls the transaction back, and EF reports no rollback to interceptors.
        }

        await db.SaveChangesAsync();

        Assert.Equal(["disposed"], await NamesAsync());
        Assert.Empty(db.Outbox().Pending);
    }

    [Fact]
    public async Task Transaction_disposed_without_commit_then_a_new_transaction_committed_without_SaveChanges_keeps_the_events_pending()
    {
        await using var db = fixture.NewContext();
        var added = Event("disposed");
        await using (await db.Database.BeginTransactionAsync())
        {
            db.Outbox().Add(added);
            await db.SaveChangesAsync();
        }

        await using (var tx = await db.Database.BeginTransactionAsync())
        {
            await tx.CommitAsync();
        }

        Assert.Equal([added], db.Outbox().Pending);
        await db.SaveChangesAsync();
        Assert.Equal(["disposed"], await NamesAsync());
        Assert.Empty(db.Outbox().Pending);
    }

    private async Task<List<string>> NamesAsync() =>
        (await fixture.ReadOutboxAsync())
            .Select(r => System.Text.Json.JsonDocument.Parse(r.Payload).RootElement.GetProperty("name").GetString()!)
            .ToList();
}
