using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.WritePath;

/// <summary>
/// Dapper commands and <see cref="OutboxWriter"/> in one transaction (docs/write-path.md, ADO.NET and Dapper), with
/// Dapper itself: both commit or neither does; a transaction that cannot carry the events is refused.
/// </summary>
public sealed class DapperTests(ShopFixture fixture) : IClassFixture<ShopFixture>, IAsyncLifetime
{
    private OutboxWriter Writer => fixture.Services.GetRequiredService<OutboxWriter>();

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Dapper_commands_and_the_events_commit_together_or_not_at_all(bool commit)
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await connection.ExecuteAsync("INSERT INTO audits (text) VALUES (@text)", new { text = "dapper" }, transaction);
            await Writer.EnqueueAsync(connection, transaction, new AccountOpened(Guid.NewGuid(), "one"));
            await Writer.EnqueueBatchAsync(connection, transaction, [new AccountOpened(Guid.NewGuid(), "two"), new AccountOpened(Guid.NewGuid(), "three")]);
            await connection.ExecuteAsync("INSERT INTO audits (text) VALUES (@text)", new { text = "after" }, transaction);
            if (commit)
            {
                await transaction.CommitAsync();
            }
            else
            {
                await transaction.RollbackAsync();
            }
        }

        Assert.Equal(commit ? 3 : 0, (await fixture.ReadOutboxAsync()).Count);
        Assert.Equal(commit ? 2L : 0L, await fixture.ScalarAsync("SELECT count(*) FROM audits"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_transaction_of_another_connection_is_refused_and_nothing_is_written(bool batch)
    {
        await using var business = await fixture.DataSource.OpenConnectionAsync();
        await using var other = await fixture.DataSource.OpenConnectionAsync();
        await using var transaction = await business.BeginTransactionAsync();
        await business.ExecuteAsync("INSERT INTO audits (text) VALUES ('business')", transaction: transaction);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => batch
            ? Writer.EnqueueBatchAsync(other, transaction, [new AccountOpened(Guid.NewGuid(), "x")])
            : Writer.EnqueueAsync(other, transaction, new AccountOpened(Guid.NewGuid(), "x")));
        Assert.Contains("another connection", error.Message, StringComparison.Ordinal);
        await transaction.RollbackAsync();

        Assert.Empty(await fixture.ReadOutboxAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_transaction_that_already_ended_is_refused_and_nothing_is_written(bool batch)
    {
        await using var connection = await fixture.DataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("INSERT INTO audits (text) VALUES ('business')", transaction: transaction);
        await transaction.CommitAsync();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => batch
            ? Writer.EnqueueBatchAsync(connection, transaction, [new AccountOpened(Guid.NewGuid(), "x")])
            : Writer.EnqueueAsync(connection, transaction, new AccountOpened(Guid.NewGuid(), "x")));
        Assert.Contains("already been committed or rolled back", error.Message, StringComparison.Ordinal);
        await transaction.DisposeAsync();

        Assert.Empty(await fixture.ReadOutboxAsync());
    }
}
