using Outbox.Providers;

namespace Outbox.PostgreSql.Tests.Relay;

/// <summary>Outbox records for the relay engines' unit tests.</summary>
internal static class TestRecords
{
    /// <summary>One record per key, in the order given, all in lane 0, created a second apart.</summary>
    public static List<OutboxRecord> Rows(params string[] keys) =>
        keys.Select((k, i) => new OutboxRecord
        {
            Id = Guid.CreateVersion7(),
            AggregateType = "order",
            AggregateId = k,
            Type = "OrderPlaced",
            Payload = "{}",
            Lane = 0,
            CreatedAt = DateTimeOffset.UnixEpoch.AddSeconds(i),
        }).ToList();
}
