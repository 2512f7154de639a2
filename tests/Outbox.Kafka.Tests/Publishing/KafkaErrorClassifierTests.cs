using Confluent.Kafka;
using Outbox.Kafka.Publishing;
using Outbox.Providers;

namespace Outbox.Kafka.Tests.Publishing;

public sealed class KafkaErrorClassifierTests
{
    [Theory]
    [InlineData(ErrorCode.MsgSizeTooLarge)]
    [InlineData(ErrorCode.InvalidMsgSize)]
    [InlineData(ErrorCode.RecordListTooLarge)]
    [InlineData(ErrorCode.TopicAuthorizationFailed)]
    [InlineData(ErrorCode.TopicException)]
    [InlineData(ErrorCode.InvalidRecord)]
    public void Errors_of_the_record_itself_are_permanent(ErrorCode code) =>
        Assert.Equal(PublishFailureKind.Permanent, KafkaErrorClassifier.Classify(code));

    [Theory]
    [InlineData(ErrorCode.Local_MsgTimedOut)]
    [InlineData(ErrorCode.Local_AllBrokersDown)]
    [InlineData(ErrorCode.Local_Transport)]
    [InlineData(ErrorCode.RequestTimedOut)]
    [InlineData(ErrorCode.NotLeaderForPartition)]
    [InlineData(ErrorCode.NotEnoughReplicas)]
    [InlineData(ErrorCode.Local_QueueFull)]
    [InlineData(ErrorCode.OutOfOrderSequenceNumber)]
    public void Errors_of_the_broker_or_the_network_are_transient(ErrorCode code) =>
        Assert.Equal(PublishFailureKind.Transient, KafkaErrorClassifier.Classify(code));

    [Theory]
    [InlineData(ErrorCode.InvalidTimestamp)]
    [InlineData(ErrorCode.InvalidMsg)]
    [InlineData(ErrorCode.Unknown)]
    public void Errors_that_cannot_be_attributed_count_against_the_record(ErrorCode code) =>
        Assert.Equal(PublishFailureKind.Record, KafkaErrorClassifier.Classify(code));

    [Fact]
    public void A_record_whose_producer_went_away_failed_transiently() =>
        Assert.Equal(PublishFailureKind.Transient, KafkaErrorClassifier.ProducerGone("disposed").Kind);
}
