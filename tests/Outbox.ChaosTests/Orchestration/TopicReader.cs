using System.Diagnostics;
using System.Text;
using Confluent.Kafka;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>Reads whole topics back, from the first offset to the high watermark of each partition.</summary>
public static class TopicReader
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    public static TopicContents Read(string bootstrapServers, string topic, TimeSpan timeout)
    {
        using var consumer = CreateConsumer(bootstrapServers);
        var partitions = Partitions(consumer, topic);
        if (partitions is null)
        {
            return new TopicContents([], []);
        }

        var ends = new Dictionary<int, long>();
        var truncated = new List<int>();
        foreach (var partition in partitions)
        {
            var marks = consumer.QueryWatermarkOffsets(partition, RequestTimeout);
            ends[partition.Partition.Value] = marks.High.Value;
            if (marks.Low.Value > 0)
            {
                truncated.Add(partition.Partition.Value);
            }
        }

        var records = new List<KafkaRecord>();
        var positions = ends.Where(e => e.Value > 0).ToDictionary(e => e.Key, _ => 0L);
        consumer.Assign(partitions.Where(p => ends[p.Partition.Value] > 0).Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var clock = Stopwatch.StartNew();
        while (positions.Any(p => p.Value < ends[p.Key]))
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Reading {topic} back took longer than {timeout.TotalSeconds:0} s.");
            }

            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is null || result.IsPartitionEOF)
            {
                continue;
            }

            var message = result.Message;
            records.Add(new KafkaRecord(
                result.Partition.Value,
                result.Offset.Value,
                message.Key is null ? null : Encoding.UTF8.GetString(message.Key),
                Header(message.Headers, "id"),
                Header(message.Headers, "type"),
                message.Value)
            {
                Headers = message.Headers is null
                    ? new Dictionary<string, string>()
                    : message.Headers.GroupBy(h => h.Key).ToDictionary(g => g.Key, g => Encoding.UTF8.GetString(g.Last().GetValueBytes())),
            });
            positions[result.Partition.Value] = result.Offset.Value + 1;
        }

        records.Sort((a, b) => a.Partition != b.Partition ? a.Partition.CompareTo(b.Partition) : a.Offset.CompareTo(b.Offset));
        return new TopicContents(records, truncated);
    }

    /// <summary>Counts the records of a topic; 0 when the topic does not exist (it is not created by asking).</summary>
    public static long Count(string bootstrapServers, string topic)
    {
        using var consumer = CreateConsumer(bootstrapServers);
        var partitions = Partitions(consumer, topic);
        if (partitions is null)
        {
            return 0;
        }

        return partitions.Sum(p =>
        {
            var marks = consumer.QueryWatermarkOffsets(p, RequestTimeout);
            return marks.High.Value - marks.Low.Value;
        });
    }

    private static IConsumer<byte[]?, byte[]?> CreateConsumer(string bootstrapServers) =>
        new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "chaos-check-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            AllowAutoCreateTopics = false,
        }).Build();

    private static List<TopicPartition>? Partitions(IConsumer<byte[]?, byte[]?> consumer, string topic)
    {
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();

        // All topics, not this one: asking for a missing topic by name could create it.
        var metadata = admin.GetMetadata(RequestTimeout).Topics.FirstOrDefault(t => t.Topic == topic);
        return metadata is null || metadata.Error.IsError
            ? null
            : metadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).OrderBy(p => p.Partition.Value).ToList();
    }

    private static string? Header(Headers? headers, string name) =>
        headers is not null && headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
