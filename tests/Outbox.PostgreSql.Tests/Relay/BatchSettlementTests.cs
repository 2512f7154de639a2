using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Tests.Relay;

public sealed class BatchSettlementTests
{
    [Fact]
    public void Every_acknowledged_row_is_done()
    {
        var rows = Rows("a", "b", "a");
        var settlement = BatchSettlement.Settle(rows, [Ack, Ack, Ack]);

        Assert.Equal([0, 1, 2], settlement.Done);
        Assert.Empty(settlement.Failures);
        Assert.Null(settlement.TransientError);
    }

    [Fact]
    public void A_failed_row_holds_back_only_its_key_even_rows_of_it_the_broker_acknowledged_later()
    {
        var rows = Rows("a", "k", "b", "k", "a");
        var settlement = BatchSettlement.Settle(rows, [Ack, PublishResult.Failed("boom"), Ack, Ack, Ack]);

        Assert.Equal([0, 2, 4], settlement.Done);
        var failure = Assert.Single(settlement.Failures);
        Assert.Equal(1, failure.Index);
        Assert.Equal("k", failure.Message.AggregateId);
        Assert.Equal("boom", failure.Error);
        Assert.False(failure.Permanent);
    }

    [Fact]
    public void Only_the_first_failure_of_a_key_counts_and_each_failed_key_counts_once()
    {
        var rows = Rows("k", "k", "j");
        var settlement = BatchSettlement.Settle(
            rows, [PublishResult.Failed("first", PublishFailureKind.Permanent), PublishResult.Failed("second"), PublishResult.Failed("other")]);

        Assert.Empty(settlement.Done);
        Assert.Equal([0, 2], settlement.Failures.Select(f => f.Index));
        Assert.True(settlement.Failures[0].Permanent);
    }

    [Fact]
    public void A_transient_failure_holds_back_its_key_without_counting_against_the_record()
    {
        var rows = Rows("k", "a", "k");
        var settlement = BatchSettlement.Settle(rows, [PublishResult.Failed("Local_MsgTimedOut", PublishFailureKind.Transient), Ack, PublishResult.Failed("x")]);

        Assert.Equal([1], settlement.Done);
        Assert.Empty(settlement.Failures);
        Assert.Equal(1, settlement.TransientRows);
        Assert.Equal("Local_MsgTimedOut", settlement.TransientError);
    }

    [Fact]
    public void Rows_not_attempted_behind_a_refused_row_wait_without_a_failure_of_their_own()
    {
        var rows = Rows("a", "k", "b", "a");
        var settlement = BatchSettlement.Settle(
            rows, [Ack, PublishResult.Failed("MsgSizeTooLarge", PublishFailureKind.Permanent), PublishResult.NotAttempted, PublishResult.NotAttempted]);

        Assert.Equal([0], settlement.Done);
        Assert.Equal("k", Assert.Single(settlement.Failures).Message.AggregateId);
        Assert.False(settlement.Complete(rows.Count));
    }

    private static PublishResult Ack => PublishResult.Acknowledged;

    private static List<OutboxRecord> Rows(params string[] keys) => TestRecords.Rows(keys);
}
