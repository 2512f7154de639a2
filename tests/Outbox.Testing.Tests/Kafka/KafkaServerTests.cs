using System.Diagnostics;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>The shared Kafka server under a realistic keyed, idempotent workload.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class KafkaServerTests(InfrastructureFixture infrastructure, ITestOutputHelper output)
{
    private readonly KafkaServer _kafka = infrastructure.Kafka;

    [Fact]
    public async Task Twenty_thousand_keyed_messages_arrive_once_in_key_order_on_stable_partitions()
    {
        const int messages = 20_000;
        const int keys = 500;
        var topic = "keyed-" + Guid.NewGuid().ToString("N");
        await _kafka.CreateTopicAsync(topic, partitions: 6);
        output.WriteLine($"{_kafka.Kind} Kafka with {_kafka.Brokers} brokers at {_kafka.BootstrapServers}");

        // Another client instance consumes while this one produces (the embedded broker keeps a bounded history).
        var consuming = KafkaTestClients.ConsumeAsync(_kafka.BootstrapServers, topic, messages, TimeSpan.FromMinutes(3));
        var tracker = new KafkaTestClients.DeliveryTracker();
        var producedPerKey = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        using (var producer = KafkaTestClients.BuildProducer(KafkaTestClients.IdempotentProducer(_kafka.BootstrapServers)))
        {
            for (var i = 0; i < messages; i++)
            {
                var key = "key-" + (i % keys);
                var sequence = producedPerKey.GetValueOrDefault(key);
                producedPerKey[key] = sequence + 1;
                producer.Produce(topic, new Message<string, string> { Key = key, Value = $"{key}:{sequence}" }, tracker.Handle);
            }

            await Eventually.TrueAsync(() => tracker.Delivered + tracker.Errors.Count >= messages, "every delivery report is in", TimeSpan.FromMinutes(3));
        }

        output.WriteLine($"produced {messages} in {clock.ElapsedMilliseconds} ms");
        Assert.Empty(tracker.Errors);
        Assert.Equal(6, tracker.PartitionOfKey.Values.Distinct().Count());

        var consumed = await consuming;
        output.WriteLine($"consumed {consumed.Count} after {clock.ElapsedMilliseconds} ms");
        KafkaTestClients.AssertExactlyOnceInKeyOrder(producedPerKey, consumed);
        Assert.All(consumed, record => Assert.Equal(tracker.PartitionOfKey[record.Key], record.Partition));
    }
}
