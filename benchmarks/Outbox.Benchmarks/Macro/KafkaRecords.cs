using System.Globalization;
using System.Text;
using Confluent.Kafka;

namespace Outbox.Benchmarks.Macro;

/// <summary>The raw producer baseline's records and settings: the same as the library's publisher sends and uses.</summary>
internal static class KafkaRecords
{
    public static Message<byte[], byte[]> Create(OutboxMessage row, string payload) => new()
    {
        Key = Encoding.UTF8.GetBytes(row.AggregateId),
        Value = Encoding.UTF8.GetBytes(payload),
        Headers = new Headers
        {
            { "id", Encoding.UTF8.GetBytes(row.Id.ToString("D", CultureInfo.InvariantCulture)) },
            { "type", Encoding.UTF8.GetBytes(row.Type) },
        },
    };

    /// <summary>The library's producer defaults (Outbox.Kafka ProducerConfigFactory): acks=all, idempotence, linger 5 ms, murmur2_random.</summary>
    public static ProducerConfig ProducerConfig(string bootstrapServers) => new()
    {
        BootstrapServers = bootstrapServers,
        Acks = Acks.All,
        EnableIdempotence = true,
        LingerMs = 5,
        Partitioner = Partitioner.Murmur2Random,
        DeliveryReportFields = "status",
    };
}
