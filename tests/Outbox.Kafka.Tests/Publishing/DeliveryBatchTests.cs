using Confluent.Kafka;
using Outbox.Kafka.Publishing;
using Outbox.Providers;

namespace Outbox.Kafka.Tests.Publishing;

public sealed class DeliveryBatchTests
{
    [Fact]
    public void Completes_when_sealed_and_every_produced_record_has_a_report()
    {
        var results = new PublishResult[3];
        var batch = new DeliveryBatch(results);
        var first = batch.Expect(0);
        batch.Expect(1);
        batch.Unexpect(1); // producing record 1 threw: it is not waited for
        results[1] = PublishResult.Failed("refused");
        results[2] = PublishResult.NotAttempted;
        batch.Sealed();
        Assert.False(batch.Completion.IsCompleted);

        first(Report(ErrorCode.NoError));
        Assert.True(batch.Completion.IsCompletedSuccessfully);
        Assert.Equal(PublishStatus.Acknowledged, results[0].Status);
        Assert.Equal(PublishStatus.Failed, results[1].Status);
    }

    [Fact]
    public void A_failed_report_carries_the_error_and_a_late_duplicate_report_changes_nothing()
    {
        var results = new PublishResult[1];
        var batch = new DeliveryBatch(results);
        var handler = batch.Expect(0);
        batch.Sealed();
        handler(Report(ErrorCode.Local_MsgTimedOut));
        batch.FailUnsettled("too late");

        Assert.True(batch.Completion.IsCompletedSuccessfully);
        Assert.Equal(PublishStatus.Failed, results[0].Status);
        Assert.StartsWith("Local_MsgTimedOut", results[0].Error, StringComparison.Ordinal);
    }

    [Fact]
    public void FailUnsettled_completes_a_batch_whose_producer_is_gone()
    {
        var results = new PublishResult[2];
        var batch = new DeliveryBatch(results);
        var first = batch.Expect(0);
        batch.Expect(1);
        batch.Sealed();
        first(Report(ErrorCode.NoError));
        Assert.False(batch.Completion.IsCompleted);

        batch.FailUnsettled("producer replaced");

        Assert.True(batch.Completion.IsCompletedSuccessfully);
        Assert.Equal(PublishStatus.Acknowledged, results[0].Status);
        // Not the record's fault: a failure that is never counted against it.
        Assert.Equal(PublishResult.Failed("producer replaced", PublishFailureKind.Transient), results[1]);
    }

    private static DeliveryReport<byte[], byte[]> Report(ErrorCode code) => new() { Error = new Error(code) };
}
