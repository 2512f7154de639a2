using Microsoft.Extensions.DependencyInjection;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>The ADO.NET/Dapper path: rows commit or roll back with the caller's transaction.</summary>
public sealed class OutboxWriterTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    private OutboxWriter Writer => fixture.Services.GetRequiredService<OutboxWriter>();

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Enqueue_in_a_committed_transaction_writes_with_the_business_row()
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await using (var cmd = new Npgsql.NpgsqlCommand("INSERT INTO audits (text) VALUES ('dapper')", connection, tx))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        var id = await Writer.EnqueueAsync(connection, tx, new AccountOpened(Guid.NewGuid(), "dapper"));
        await tx.CommitAsync();

        var row = Assert.Single(await fixture.ReadOutboxAsync());
        Assert.Equal(id, row.Id);
        Assert.NotNull(row.CommitSequence);
        Assert.Equal(1, await fixture.ScalarAsync("SELECT count(*) FROM audits"));
    }

    [Fact]
    public async Task Enqueue_in_a_rolled_back_transaction_writes_nothing()
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await Writer.EnqueueAsync(connection, tx, new AccountOpened(Guid.NewGuid(), "gone"));
        await Writer.EnqueueBatchAsync(connection, tx, [new AccountOpened(Guid.NewGuid(), "gone2")]);
        await tx.RollbackAsync();

        Assert.Empty(await fixture.ReadOutboxAsync());
    }

    [Fact]
    public async Task Batch_enqueue_keeps_the_given_order_and_rejects_bad_events_before_writing()
    {
        var key = Guid.NewGuid();
        var events = Enumerable.Range(0, 1000).Select(i => (object)new AccountRenamed(key, "n", i)).ToList();
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        await using (var tx = await connection.BeginTransactionAsync())
        {
            var ids = await Writer.EnqueueBatchAsync(connection, tx, events);
            Assert.Equal(1000, ids.Count);
            await tx.CommitAsync();
        }

        var rows = await fixture.ReadOutboxAsync();
        Assert.Equal(1000, rows.Count);
        Assert.Equal(Enumerable.Range(0, 1000), rows.Select(r => System.Text.Json.JsonDocument.Parse(r.Payload).RootElement.GetProperty("sequence").GetInt32()));

        await Assert.ThrowsAsync<UnmappedEventException>(() =>
            Writer.EnqueueBatchAsync(connection, null, [new AccountOpened(Guid.NewGuid(), "ok"), new NotMapped(1)]));
        Assert.Equal(1000, await fixture.ScalarAsync("SELECT count(*) FROM outbox.messages"));
    }
}
