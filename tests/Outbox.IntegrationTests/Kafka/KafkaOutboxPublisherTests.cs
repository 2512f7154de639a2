using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka;
using Outbox.Kafka.Publishing;
using Outbox.Providers;
using Outbox.Relay;
using Outbox.Testing;

namespace Outbox.IntegrationTests.Kafka;

/// <summary>The publisher against the Kafka protocol: record shape, per-record results, fatal errors, bounded disposal.</summary>
public sealed class KafkaOutboxPublisherTests
{
    private const int Partitions = 6;

    // The publishers of these tests report to meters of their own (no test here reads them).
    private static readonly TestMeterFactory s_meters = new();

    [Fact]
    public async Task Records_have_the_DESIGN_shape_topic_key_value_and_headers()
    {
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "pub-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", Partitions);
        await using var publisher = CreatePublisher(kafka, prefix);
        var plain = Message("user-42", "{\"userId\":42,\"title\":\"Heat\"}");
        var traced = Message("user-7", "{\"userId\":7,\"title\":\"Ran\"}", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "congo=t61rcWkgMzE");

        var results = await publisher.PublishAsync([plain, traced], CancellationToken.None);

        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        var records = Read(kafka, prefix + ".movie", 2);
        var first = records.Single(r => Encoding.UTF8.GetString(r.Message.Key) == "user-42");
        Assert.Equal(plain.Payload, Encoding.UTF8.GetString(first.Message.Value));
        Assert.Equal(["id", "type"], first.Message.Headers.Select(h => h.Key));
        Assert.Equal(plain.Id.ToString("D"), Header(first, "id"));
        Assert.Equal("MovieStarted", Header(first, "type"));
        Assert.Equal(JavaPartition("user-42", Partitions), first.Partition.Value);

        var second = records.Single(r => Encoding.UTF8.GetString(r.Message.Key) == "user-7");
        Assert.Equal(["id", "type", "traceparent", "tracestate"], second.Message.Headers.Select(h => h.Key));
        Assert.Equal(traced.TraceParent, Header(second, "traceparent"));
        Assert.Equal(traced.TraceState, Header(second, "tracestate"));
        Assert.Equal(JavaPartition("user-7", Partitions), second.Partition.Value);
    }

    [Fact]
    public async Task A_record_the_producer_refuses_fails_alone_and_nothing_after_it_is_sent()
    {
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "pub-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", Partitions);
        // The relay's limits are lower than the writer's were: the producer refuses the large payload.
        await using var publisher = CreatePublisher(kafka, prefix, k => k.Producer.MessageMaxBytes = 20_480, maxPayloadBytes: 4096);

        var results = await publisher.PublishAsync(
            [Message("a", "{\"n\":1}"), Message("a", "{\"pad\":\"" + new string('x', 50_000) + "\"}"), Message("a", "{\"n\":3}")],
            CancellationToken.None);

        Assert.Equal(PublishStatus.Acknowledged, results[0].Status);
        Assert.Equal(PublishStatus.Failed, results[1].Status);
        Assert.Contains("SizeTooLarge", results[1].Error, StringComparison.Ordinal);
        Assert.Equal(PublishFailureKind.Permanent, results[1].Kind);
        Assert.Equal(PublishStatus.NotAttempted, results[2].Status);
        var records = Read(kafka, prefix + ".movie", 1);
        Assert.Equal("{\"n\":1}", Encoding.UTF8.GetString(Assert.Single(records).Message.Value));
    }

    [Fact]
    public async Task The_producer_takes_every_payload_the_write_path_accepts_by_default()
    {
        // librdkafka's own message.max.bytes (1,000,000) is below OutboxOptions.MaxPayloadBytes (1 MiB): unless the
        // application sets it, the producer is sized from MaxPayloadBytes.
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "pub-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", Partitions);
        await using var publisher = CreatePublisher(kafka, prefix);

        var results = await publisher.PublishAsync([Message("a", "{\"pad\":\"" + new string('x', 1_000_100) + "\"}")], CancellationToken.None);

        Assert.Equal(PublishStatus.Acknowledged, Assert.Single(results).Status);
    }

    [Fact]
    public async Task A_producer_message_max_bytes_below_MaxPayloadBytes_is_refused_at_start_naming_both_settings()
    {
        var kafka = await SharedInfrastructure.KafkaAsync();
        var error = Assert.Throws<OutboxConfigurationException>(() => CreatePublisher(kafka, "pub", k => k.Producer.MessageMaxBytes = 1_000_000));
        Assert.Contains("MessageMaxBytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxPayloadBytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("1064960", error.Message, StringComparison.Ordinal);

        // Room for MaxPayloadBytes plus the key and headers is enough.
        await using var fits = CreatePublisher(kafka, "pub", k => k.Producer.MessageMaxBytes = 20_480, maxPayloadBytes: 4096);
    }

    [Fact]
    public async Task A_fatal_producer_error_fails_the_batch_and_the_next_batch_gets_a_new_producer()
    {
        await using var kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1 });
        var prefix = "pub-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", 1);
        var publisher = CreatePublisher(kafka, prefix);
        try
        {
            Assert.All(await publisher.PublishAsync([Message("a", "{\"n\":1}")], CancellationToken.None), r => Assert.Equal(PublishStatus.Acknowledged, r.Status));

            // OUT_OF_ORDER_SEQUENCE: fatal for librdkafka's idempotent producer (the example).
            kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.OutOfOrderSequenceNumber);
            var failed = await publisher.PublishAsync([Message("a", "{\"n\":2}")], CancellationToken.None);
            Assert.Equal(PublishStatus.Failed, failed[0].Status);
            Assert.Equal(1, publisher.ProducerGenerations);

            var retried = await publisher.PublishAsync([Message("a", "{\"n\":2}")], CancellationToken.None);
            Assert.Equal(PublishStatus.Acknowledged, retried[0].Status);
            Assert.Equal(2, publisher.ProducerGenerations);
        }
        finally
        {
            await publisher.DisposeAsync();
        }
    }

    [Fact]
    public async Task Dispose_waits_for_outstanding_deliveries_only_up_to_the_flush_timeout()
    {
        await using var kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1 });
        var prefix = "pub-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", 1);
        var publisher = CreatePublisher(kafka, prefix, k => k.FlushTimeout = TimeSpan.FromSeconds(1));
        Assert.All(await publisher.PublishAsync([Message("a", "{\"n\":1}")], CancellationToken.None), r => Assert.Equal(PublishStatus.Acknowledged, r.Status));

        kafka.SetAllBrokersDown();
        var pending = publisher.PublishAsync([Message("a", "{\"n\":2}"), Message("a", "{\"n\":3}")], CancellationToken.None).AsTask();
        var watch = Stopwatch.StartNew();
        await publisher.DisposeAsync();
        watch.Stop();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"disposal took {watch.Elapsed}");
        var results = await pending.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(results, r => Assert.Equal(PublishStatus.Failed, r.Status));
        await publisher.DisposeAsync();
        kafka.SetAllBrokersUp();
    }

    [Fact]
    public async Task Records_not_acknowledged_within_message_timeout_fail_as_transient_and_the_next_batch_gets_a_new_producer()
    {
        await using var kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1 });
        var prefix = "pub-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", 1);
        await using var publisher = CreatePublisher(kafka, prefix, k => k.Producer.MessageTimeoutMs = 1500);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), publisher.DeliveryTimeout);
        await WarmUpAsync(publisher);
        var generations = publisher.ProducerGenerations;

        kafka.SetAllBrokersDown();
        var watch = Stopwatch.StartNew();
        var failed = await publisher.PublishAsync([Message("a", "{\"n\":2}"), Message("a", "{\"n\":3}")], CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        watch.Stop();
        Assert.All(failed, r =>
        {
            Assert.Equal(PublishStatus.Failed, r.Status);
            Assert.Equal(PublishFailureKind.Transient, r.Kind);
            Assert.Contains("timed out", r.Error, StringComparison.OrdinalIgnoreCase);
        });
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(1400), $"failed after {watch.Elapsed}, before the time limit");
        Assert.Equal(generations + 1, publisher.ProducerGenerations);

        kafka.SetAllBrokersUp();
        var retried = await publisher.PublishAsync([Message("a", "{\"n\":2}"), Message("a", "{\"n\":3}")], CancellationToken.None);
        Assert.All(retried, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
    }

    /// <summary>
    /// Brokers that come back while the producer waits to reconnect: batch A is handed over while the brokers are down,
    /// batch B of the same key a moment later, the brokers come back at once, and the producer (with a long reconnect
    /// backoff) connects again at some moment around A's time limit. When librdkafka timed records out itself, it could
    /// fail A and then deliver B, which had time left (a key out of order; a CI run of the CDC relay caught it). Now a
    /// record is never acknowledged while an earlier record of its partition failed.
    /// </summary>
    [Fact]
    public async Task No_record_is_acknowledged_behind_an_earlier_record_of_its_partition_that_ran_out_of_time()
    {
        await using var kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1 });
        var prefix = "pub-" + Guid.NewGuid().ToString("N")[..12];
        await kafka.CreateTopicAsync(prefix + ".movie", 1);
        await using var publisher = CreatePublisher(kafka, prefix, k =>
        {
            k.Producer.MessageTimeoutMs = 1000;
            k.Producer.ReconnectBackoffMs = 1300;
            k.Producer.ReconnectBackoffMaxMs = 1300;
        });
        await WarmUpAsync(publisher);

        var violations = new List<string>();
        var outcomes = new List<string>();
        for (var round = 0; round < 10; round++)
        {
            kafka.SetAllBrokersDown();
            await Task.Delay(200 + (round * 50));
            var a = publisher.PublishAsync([Message("a", "{\"batch\":\"A\"}")], CancellationToken.None).AsTask();
            await Task.Delay(700);
            var b = publisher.PublishAsync([Message("a", "{\"batch\":\"B\"}")], CancellationToken.None).AsTask();
            kafka.SetAllBrokersUp();
            var resultA = (await a.WaitAsync(TimeSpan.FromSeconds(60)))[0];
            var resultB = (await b.WaitAsync(TimeSpan.FromSeconds(60)))[0];
            outcomes.Add($"{resultA.Status}/{resultB.Status}");
            if (resultA.Status == PublishStatus.Failed && resultB.Status == PublishStatus.Acknowledged)
            {
                violations.Add($"round {round}: A failed ({resultA.Error}) while B was acknowledged");
            }
        }

        Assert.True(violations.Count == 0, string.Join("; ", violations) + " | outcomes: " + string.Join(", ", outcomes));
    }

    /// <summary>
    /// Publishes one record until the healthy broker acknowledges it: the first record needs the producer's metadata
    /// and connection, which can take longer than these tests' short message timeouts on a loaded machine.
    /// </summary>
    private static async Task WarmUpAsync(KafkaOutboxPublisher publisher)
    {
        var watch = Stopwatch.StartNew();
        PublishResult result;
        do
        {
            result = (await publisher.PublishAsync([Message("a", "{\"n\":0}")], CancellationToken.None))[0];
        }
        while (result.Status != PublishStatus.Acknowledged && watch.Elapsed < TimeSpan.FromSeconds(60));
        Assert.Equal(PublishStatus.Acknowledged, result.Status);
    }

    private static KafkaOutboxPublisher CreatePublisher(KafkaServer kafka, string prefix, Action<KafkaOptions>? configure = null, int? maxPayloadBytes = null)
    {
        var options = new KafkaOptions { BootstrapServers = kafka.BootstrapServers };
        configure?.Invoke(options);
        var outbox = new OutboxOptions { TopicTemplate = prefix + ".{aggregatetype}" };
        if (maxPayloadBytes is { } max)
        {
            outbox.MaxPayloadBytes = max;
        }

        return new KafkaOutboxPublisher(options, outbox, new PublishTelemetry(s_meters), NullLogger<KafkaOutboxPublisher>.Instance);
    }

    private static OutboxRecord Message(string key, string payload, string? traceParent = null, string? traceState = null) => new()
    {
        TraceParent = traceParent,
        TraceState = traceState,
        Id = Guid.CreateVersion7(),
        AggregateType = "movie",
        AggregateId = key,
        Type = "MovieStarted",
        Payload = payload,
    };

    private static string Header(ConsumeResult<byte[], byte[]> record, string name) =>
        Encoding.UTF8.GetString(record.Message.Headers.GetLastBytes(name));

    private static List<ConsumeResult<byte[], byte[]>> Read(KafkaServer kafka, string topic, int expected)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<ConsumeResult<byte[], byte[]>>();
        var watch = Stopwatch.StartNew();
        while (records.Count < expected && watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: not null } result)
            {
                records.Add(result);
            }
        }

        while (consumer.Consume(TimeSpan.FromMilliseconds(300)) is { Message: not null } extra)
        {
            records.Add(extra);
        }

        return records;
    }

    /// <summary>The Java client's default partition of a key (murmur2, as Kafka Connect and Debezium use).</summary>
    private static int JavaPartition(string key, int partitions)
    {
        var data = Encoding.UTF8.GetBytes(key);
        const uint seed = 0x9747b28c;
        const uint m = 0x5bd1e995;
        const int r = 24;
        var length = data.Length;
        var h = seed ^ (uint)length;
        var length4 = length / 4;
        for (var i = 0; i < length4; i++)
        {
            var i4 = i * 4;
            var k = (uint)(data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24));
            k *= m;
            k ^= k >> r;
            k *= m;
            h *= m;
            h ^= k;
        }

        var tail = length4 * 4;
        switch (length % 4)
        {
            case 3:
                h ^= (uint)data[tail + 2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)data[tail + 1] << 8;
                goto case 1;
            case 1:
                h ^= data[tail];
                h *= m;
                break;
        }

        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return (int)((h & 0x7fffffff) % (uint)partitions);
    }
}
