using Confluent.Kafka;
using Outbox.Providers;

namespace Outbox.Kafka.Publishing;

/// <summary>
/// Sorts librdkafka's delivery and produce errors into what they say about the record: the broker or network is at
/// fault (transient: retried, never counted), the record can never be published as it is (permanent: parked at once),
/// or it cannot be told (counted as an attempt of the record).
/// </summary>
internal static class KafkaErrorClassifier
{
    public static PublishFailureKind Classify(Error error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return Classify(error.Code);
    }

    public static PublishFailureKind Classify(ErrorCode code) => code switch
    {
        // The record itself: too large for the producer or the broker, an invalid topic name, a topic this client may
        // not write, a record the broker refuses as malformed.
        ErrorCode.MsgSizeTooLarge or ErrorCode.RecordListTooLarge or ErrorCode.InvalidMsgSize
            or ErrorCode.InvalidRecord or ErrorCode.TopicException or ErrorCode.Local_UnknownTopic
            or ErrorCode.TopicAuthorizationFailed or ErrorCode.Local_InvalidArg or ErrorCode.InvalidRequiredAcks
            or ErrorCode.PolicyViolation => PublishFailureKind.Permanent,

        // The path to the broker: unreachable, slow, moving leaders, not enough replicas yet, a full local queue, a
        // producer replaced after a fatal error. Every record fails alike; none is to blame.
        ErrorCode.Local_MsgTimedOut or ErrorCode.Local_TimedOut or ErrorCode.Local_Transport or ErrorCode.Local_AllBrokersDown
            or ErrorCode.Local_QueueFull or ErrorCode.Local_Destroy or ErrorCode.Local_Fatal or ErrorCode.Local_Resolve
            or ErrorCode.Local_Retry or ErrorCode.Local_Partial or ErrorCode.Local_FS or ErrorCode.Local_Ssl
            or ErrorCode.Local_PurgeQueue or ErrorCode.Local_PurgeInflight or ErrorCode.Local_TimedOutQueue
            or ErrorCode.Local_Outdated or ErrorCode.Local_Intr or ErrorCode.Local_NoOffset
            or ErrorCode.RequestTimedOut or ErrorCode.NetworkException or ErrorCode.LeaderNotAvailable
            or ErrorCode.NotLeaderForPartition or ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend
            or ErrorCode.BrokerNotAvailable or ErrorCode.ReplicaNotAvailable or ErrorCode.NotCoordinatorForGroup
            or ErrorCode.KafkaStorageError or ErrorCode.OutOfOrderSequenceNumber or ErrorCode.UnknownProducerId
            or ErrorCode.InvalidProducerEpoch or ErrorCode.ProducerFenced or ErrorCode.ConcurrentTransactions
            or ErrorCode.ThrottlingQuotaExceeded or ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownPartition
            or ErrorCode.Local_State => PublishFailureKind.Transient,

        _ => PublishFailureKind.Record,
    };

    /// <summary>The failure of a record whose producer was disposed or replaced before it reported: never the record's fault.</summary>
    public static PublishResult ProducerGone(string error) => PublishResult.Failed(error, PublishFailureKind.Transient);
}
