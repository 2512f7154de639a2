using Outbox.PostgreSql.Cdc;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay.Cdc;

/// <summary>Pure logic (no I/O): how the CDC relay settles a batch from its publish results.</summary>
public sealed class CdcAcknowledgerTests
{
    private readonly List<KeyFailure> _recorded = [];

    [Fact]
    public async Task A_failed_row_holds_its_key_and_its_later_rows_while_the_rows_of_other_keys_are_done()
    {
        var acknowledger = new CdcAcknowledger();
        var held = new CdcHeldKeys([]);
        var rows = Rows("a", "b", "a", "b", "c");
        var outcome = await SettleAsync(
            acknowledger, held, rows,
            [PublishResult.Acknowledged, PublishResult.Failed("boom"), PublishResult.Acknowledged, PublishResult.Acknowledged, PublishResult.Acknowledged]);

        // Every row is settled: b's failed row and its later (acknowledged) row wait in the table, the others are done.
        Assert.Equal(5, outcome.Settled);
        Assert.Equal([rows[0].Message.Id, rows[2].Message.Id, rows[4].Message.Id], outcome.Deletes);
        Assert.Null(outcome.TransientError);
        Assert.Null(outcome.CarryOver);
        var failure = Assert.Single(_recorded);
        Assert.Equal(rows[1].Message.Id, failure.Message.Id);
        Assert.False(failure.Permanent);
        Assert.True(held.Contains(rows[1].Message));
        Assert.False(held.Contains(rows[0].Message));
        Assert.Equal(3, acknowledger.Published);
    }

    [Fact]
    public async Task Rows_of_a_key_held_by_an_earlier_batch_are_held_even_when_acknowledged_and_not_counted_again()
    {
        var acknowledger = new CdcAcknowledger();
        var rows = Rows("a", "b");
        var held = new CdcHeldKeys([("order", "b")]);
        var outcome = await SettleAsync(acknowledger, held, rows, [PublishResult.Acknowledged, PublishResult.Failed("again")]);

        Assert.Equal(2, outcome.Settled);
        Assert.Equal([rows[0].Message.Id], outcome.Deletes);
        Assert.Empty(_recorded);
    }

    [Fact]
    public async Task Held_and_skipped_rows_are_settled_without_being_sent_or_deleted()
    {
        var acknowledger = new CdcAcknowledger();
        var rows = Rows("a", "b", "c");
        var batch = new InFlightBatch(rows, [CdcRowAction.Hold, CdcRowAction.Send, CdcRowAction.Skip], Task.FromResult<PublishResult[]>([PublishResult.Acknowledged]), refused: false);
        var outcome = await acknowledger.SettleAsync(batch, await batch.Results, new CdcHeldKeys([]), RecordAsync, CancellationToken.None);

        Assert.Equal(3, outcome.Settled);
        Assert.Equal([rows[1].Message.Id], outcome.Deletes);
        Assert.Equal(1, acknowledger.Published);
    }

    [Fact]
    public async Task Rows_of_other_keys_not_attempted_behind_a_refused_row_are_given_back_in_order()
    {
        var acknowledger = new CdcAcknowledger();
        var held = new CdcHeldKeys([]);
        var rows = Rows("a", "b", "a", "b");
        var outcome = await SettleAsync(
            acknowledger, held, rows,
            [PublishResult.Acknowledged, PublishResult.Failed("too large", PublishFailureKind.Permanent), PublishResult.NotAttempted, PublishResult.NotAttempted],
            refused: true);

        Assert.Equal(2, outcome.Settled);
        Assert.Equal([rows[0].Message.Id], outcome.Deletes);
        Assert.Equal([rows[2], rows[3]], outcome.CarryOver!);
        Assert.Null(outcome.TransientError);
        Assert.True(Assert.Single(_recorded).Permanent);
    }

    [Fact]
    public async Task A_transient_failure_counts_nothing_and_ends_the_settled_prefix_before_it()
    {
        var acknowledger = new CdcAcknowledger();
        var held = new CdcHeldKeys([]);
        var rows = Rows("a", "b", "c");
        var outcome = await SettleAsync(
            acknowledger, held, rows,
            [PublishResult.Acknowledged, PublishResult.Failed("broker down", PublishFailureKind.Transient), PublishResult.Acknowledged]);

        Assert.Equal(1, outcome.Settled);
        Assert.Equal([rows[0].Message.Id], outcome.Deletes);
        Assert.Equal("broker down", outcome.TransientError);
        Assert.Null(outcome.CarryOver);
        Assert.Empty(_recorded);
        Assert.False(held.Contains(rows[1].Message));
    }

    [Fact]
    public async Task A_row_settled_again_after_a_replay_is_remembered_and_counted_once()
    {
        var acknowledger = new CdcAcknowledger();
        var rows = Rows("a", "b");
        Assert.False(acknowledger.WasAcknowledged(rows[0]));
        await SettleAsync(acknowledger, new CdcHeldKeys([]), rows, [PublishResult.Acknowledged, PublishResult.Acknowledged]);
        Assert.True(acknowledger.WasAcknowledged(rows[0]));
        await SettleAsync(acknowledger, new CdcHeldKeys([]), rows, [PublishResult.Acknowledged, PublishResult.Acknowledged]);
        Assert.Equal(2, acknowledger.Published);
    }

    [Fact]
    public async Task The_same_id_inserted_again_by_a_later_transaction_is_not_taken_for_a_replay()
    {
        var acknowledger = new CdcAcknowledger();
        var first = Rows("a");
        await SettleAsync(acknowledger, new CdcHeldKeys([]), first, [PublishResult.Acknowledged]);

        // A released key's event inserted again: same id, a later transaction. A backlog row (position 0) is not a stream row either.
        var again = first[0] with { CommitLsn = 0x2000 };
        Assert.True(acknowledger.WasAcknowledged(first[0]));
        Assert.False(acknowledger.WasAcknowledged(again));
        Assert.False(acknowledger.WasAcknowledged(first[0] with { CommitLsn = CdcRow.Backlog }));
        await SettleAsync(acknowledger, new CdcHeldKeys([]), [again], [PublishResult.Acknowledged]);
        Assert.Equal(2, acknowledger.Published);
    }

    private Task<CdcBatchOutcome> SettleAsync(CdcAcknowledger acknowledger, CdcHeldKeys held, List<CdcRow> rows, PublishResult[] results, bool refused = false)
    {
        var batch = new InFlightBatch(rows, new CdcRowAction[rows.Count], Task.FromResult(results), refused);
        return acknowledger.SettleAsync(batch, results, held, RecordAsync, CancellationToken.None);
    }

    private Task<KeyFailureOutcome> RecordAsync(KeyFailure failure, CancellationToken cancellationToken)
    {
        _recorded.Add(failure);
        return Task.FromResult(new KeyFailureOutcome(1, failure.Permanent, failure.Permanent ? TimeSpan.Zero : TimeSpan.FromSeconds(1)));
    }

    private static List<CdcRow> Rows(params string[] keys) =>
        keys.Select(k => new CdcRow(new OutboxRecord { Id = Guid.NewGuid(), AggregateType = "order", AggregateId = k }, 0x1000)).ToList();
}
