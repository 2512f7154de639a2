using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Outbox.PostgreSql.Cdc;
using Outbox.PostgreSql;
using Outbox.Relay;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>Pure logic (no I/O), kept here because IOutboxPublisher's result types are internal to Outbox.</summary>
public sealed class CdcAcknowledgerTests : IAsyncDisposable
{
    // Never opened: these tests stay below MaxAttempts, so no row is dead-lettered.
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create("Host=unused.invalid;Username=none");

    [Fact]
    public async Task The_acknowledged_prefix_is_done_and_the_first_failure_stops_it()
    {
        var acknowledger = Create(maxAttempts: 5);
        var rows = Rows(4);
        var (done, error) = await acknowledger.SettleAsync(
            rows, [PublishResult.Acknowledged, PublishResult.Acknowledged, PublishResult.Failed("boom"), PublishResult.Acknowledged], CancellationToken.None);

        Assert.Equal(2, done);
        Assert.Equal("boom", error);
        Assert.Equal(2, acknowledger.Published);
    }

    [Fact]
    public async Task A_row_not_attempted_stops_the_prefix_without_counting_an_attempt()
    {
        var acknowledger = Create(maxAttempts: 1);
        var rows = Rows(2);

        // With MaxAttempts = 1 a counted failure would dead-letter the row (and touch the database).
        var (done, error) = await acknowledger.SettleAsync(rows, [PublishResult.Acknowledged, PublishResult.NotAttempted], CancellationToken.None);
        Assert.Equal(1, done);
        Assert.NotNull(error);
    }

    [Fact]
    public async Task Failures_of_a_row_are_counted_across_calls_and_forgotten_once_it_is_acknowledged()
    {
        var acknowledger = Create(maxAttempts: 3);
        var row = Rows(1);
        Assert.Equal(0, (await acknowledger.SettleAsync(row, [PublishResult.Failed("a")], CancellationToken.None)).Done);
        Assert.Equal(0, (await acknowledger.SettleAsync(row, [PublishResult.Failed("b")], CancellationToken.None)).Done);
        Assert.Equal(1, (await acknowledger.SettleAsync(row, [PublishResult.Acknowledged], CancellationToken.None)).Done);

        // Two more failures after the success: the count starts again, so still below 3 and nothing is dead-lettered.
        Assert.Equal(0, (await acknowledger.SettleAsync(row, [PublishResult.Failed("c")], CancellationToken.None)).Done);
        Assert.Equal(0, (await acknowledger.SettleAsync(row, [PublishResult.Failed("d")], CancellationToken.None)).Done);
    }

    [Fact]
    public async Task A_row_settled_again_after_a_replay_is_remembered_and_counted_once()
    {
        var acknowledger = Create(maxAttempts: 3);
        var rows = Rows(2);
        Assert.False(acknowledger.WasAcknowledged(rows[0]));
        await acknowledger.SettleAsync(rows, [PublishResult.Acknowledged, PublishResult.Acknowledged], CancellationToken.None);
        Assert.True(acknowledger.WasAcknowledged(rows[0]));
        await acknowledger.SettleAsync(rows, [PublishResult.Acknowledged, PublishResult.Acknowledged], CancellationToken.None);
        Assert.Equal(2, acknowledger.Published);
    }

    [Fact]
    public async Task The_same_id_inserted_again_by_a_later_transaction_is_not_taken_for_a_replay()
    {
        var acknowledger = Create(maxAttempts: 3);
        var first = Rows(1, commitLsn: 0x1000);
        await acknowledger.SettleAsync(first, [PublishResult.Acknowledged], CancellationToken.None);

        // A replayed dead letter: same id, a later transaction. A backlog row (position 0) is not a stream row either.
        var again = new CdcRow(first[0].Message, 0x2000);
        Assert.True(acknowledger.WasAcknowledged(first[0]));
        Assert.False(acknowledger.WasAcknowledged(again));
        Assert.False(acknowledger.WasAcknowledged(first[0] with { CommitLsn = CdcRow.Backlog }));
        await acknowledger.SettleAsync([again], [PublishResult.Acknowledged], CancellationToken.None);
        Assert.Equal(2, acknowledger.Published);
    }

    [Fact]
    public async Task Failures_are_counted_per_insert_not_per_id()
    {
        var acknowledger = Create(maxAttempts: 2);
        var first = Rows(1, commitLsn: 0x1000);
        var again = new CdcRow(first[0].Message, 0x2000);

        // One failure each: with MaxAttempts = 2 a shared count would dead-letter the second (and touch the database).
        Assert.Equal(0, (await acknowledger.SettleAsync(first, [PublishResult.Failed("a")], CancellationToken.None)).Done);
        Assert.Equal(0, (await acknowledger.SettleAsync([again], [PublishResult.Failed("b")], CancellationToken.None)).Done);
    }

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync();

    private CdcAcknowledger Create(int maxAttempts) => new(
        new CdcStore(_dataSource, new CdcNames(new OutboxOptions(), "slot", "pub")),
        new CdcRelayOptions { MaxAttempts = maxAttempts },
        new FakeTimeProvider(),
        NullLogger.Instance);

    private static List<CdcRow> Rows(int count, ulong commitLsn = 0x1000) =>
        Enumerable.Range(0, count).Select(_ => new CdcRow(new OutboxMessage { Id = Guid.NewGuid() }, commitLsn)).ToList();
}
