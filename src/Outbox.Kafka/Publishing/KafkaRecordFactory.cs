using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Outbox.Providers;

namespace Outbox.Kafka.Publishing;

/// <summary>Builds the Kafka record of an outbox row: topic from the template, key = aggregate id, value = payload, headers.</summary>
internal sealed class KafkaRecordFactory(OutboxOptions options)
{
    private readonly ConcurrentDictionary<string, string> _topics = new(StringComparer.Ordinal);

    public string GetTopic(OutboxRecord message) =>
        _topics.GetOrAdd(message.AggregateType, static (type, o) => o.GetTopic(type), options);

    public static Message<byte[], byte[]> CreateMessage(OutboxRecord message)
    {
        var headers = new Headers
        {
            { KafkaHeaderNames.Id, Encoding.UTF8.GetBytes(message.Id.ToString("D", CultureInfo.InvariantCulture)) },
            { KafkaHeaderNames.Type, Encoding.UTF8.GetBytes(message.Type) },
        };
        if (message.TraceParent is { Length: > 0 } traceParent)
        {
            headers.Add(KafkaHeaderNames.TraceParent, Encoding.UTF8.GetBytes(traceParent));
        }

        if (message.TraceState is { Length: > 0 } traceState)
        {
            headers.Add(KafkaHeaderNames.TraceState, Encoding.UTF8.GetBytes(traceState));
        }

        if (message.Database is { Length: > 0 } database)
        {
            headers.Add(KafkaHeaderNames.Database, Encoding.UTF8.GetBytes(database));
        }

        return new Message<byte[], byte[]>
        {
            Key = Encoding.UTF8.GetBytes(message.AggregateId),
            Value = Encoding.UTF8.GetBytes(message.Payload),
            Headers = headers,
        };
    }
}
