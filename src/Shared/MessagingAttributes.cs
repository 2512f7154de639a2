namespace Outbox;

/// <summary>OpenTelemetry semantic-convention attribute names (messaging, v1.36) and the outbox's own.</summary>
internal static class MessagingAttributes
{
    public const string System = "messaging.system";
    public const string Kafka = "kafka";
    public const string DestinationName = "messaging.destination.name";
    public const string OperationType = "messaging.operation.type";
    public const string OperationName = "messaging.operation.name";
    public const string MessageId = "messaging.message.id";
    public const string KafkaMessageKey = "messaging.kafka.message.key";
    public const string KafkaPartition = "messaging.destination.partition.id";
    public const string KafkaOffset = "messaging.kafka.offset";
    public const string ConsumerGroup = "messaging.consumer.group.name";
    public const string ErrorType = "error.type";
    public const string AggregateType = "outbox.aggregate_type";
    public const string EventType = "outbox.event.type";
    public const string Lane = "outbox.lane";
    public const string Relay = "outbox.relay.type";
    public const string RelayInstance = "outbox.relay.instance";
    public const string MessageCount = "messaging.batch.message_count";
    public const string DbNamespace = "db.namespace";
    public const string OutboxDatabase = "outbox.database";
    public const string Slot = "outbox.cdc.slot";
}
