namespace Outbox.Kafka.Consuming;

/// <summary>Marks a consumer group as added (so that adding it again only adds configuration).</summary>
internal sealed record InboxConsumerRegistration(string GroupId, Type DbContextType);
