using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>A batch handed to the publisher and the task of its delivery results.</summary>
internal sealed record CdcInFlightBatch(List<OutboxMessage> Messages, Task<PublishResult[]> Results);
