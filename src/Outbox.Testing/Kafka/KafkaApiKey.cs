namespace Outbox.Testing;

/// <summary>
/// Kafka protocol request types (API keys), for <see cref="KafkaServer.PushRequestErrors"/>. Any other key can be
/// passed as a cast number, such as <c>(KafkaApiKey)32</c>.
/// </summary>
public enum KafkaApiKey
{
    /// <summary>Produce (0): a producer sends records.</summary>
    Produce = 0,

    /// <summary>Fetch (1): a consumer reads records.</summary>
    Fetch = 1,

    /// <summary>ListOffsets (2): looks up offsets by time, earliest or latest.</summary>
    ListOffsets = 2,

    /// <summary>Metadata (3): brokers, topics, partitions and leaders.</summary>
    Metadata = 3,

    /// <summary>OffsetCommit (8): a consumer group commits offsets.</summary>
    OffsetCommit = 8,

    /// <summary>OffsetFetch (9): a consumer group reads its committed offsets.</summary>
    OffsetFetch = 9,

    /// <summary>FindCoordinator (10): finds the group or transaction coordinator.</summary>
    FindCoordinator = 10,

    /// <summary>JoinGroup (11): a consumer joins a classic consumer group.</summary>
    JoinGroup = 11,

    /// <summary>Heartbeat (12): a classic group member keeps its membership.</summary>
    Heartbeat = 12,

    /// <summary>LeaveGroup (13): a member leaves a classic consumer group.</summary>
    LeaveGroup = 13,

    /// <summary>SyncGroup (14): the classic group's assignment is distributed.</summary>
    SyncGroup = 14,

    /// <summary>ApiVersions (18): the client asks which request versions the broker supports.</summary>
    ApiVersions = 18,

    /// <summary>CreateTopics (19).</summary>
    CreateTopics = 19,

    /// <summary>DeleteTopics (20).</summary>
    DeleteTopics = 20,

    /// <summary>InitProducerId (22): an idempotent or transactional producer gets its id and epoch.</summary>
    InitProducerId = 22,

    /// <summary>AddPartitionsToTxn (24).</summary>
    AddPartitionsToTxn = 24,

    /// <summary>AddOffsetsToTxn (25).</summary>
    AddOffsetsToTxn = 25,

    /// <summary>EndTxn (26): commits or aborts a transaction.</summary>
    EndTxn = 26,

    /// <summary>TxnOffsetCommit (28).</summary>
    TxnOffsetCommit = 28,

    /// <summary>ConsumerGroupHeartbeat (68): the KIP-848 consumer group protocol.</summary>
    ConsumerGroupHeartbeat = 68,
}
