using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;

namespace Outbox.Testing.Tests;

/// <summary>Producer and consumer helpers shared by the Kafka tests.</summary>
internal static class KafkaTestClients
{
    public static ProducerConfig IdempotentProducer(string bootstrapServers) => new()
    {
        BootstrapServers = bootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        MessageTimeoutMs = 180_000,
        RetryBackoffMs = 100,
        RetryBackoffMaxMs = 1_000,
        ReconnectBackoffMs = 100,
        ReconnectBackoffMaxMs = 1_000,
    };

    public static ConsumerConfig GroupConsumer(string bootstrapServers) => new()
    {
        BootstrapServers = bootstrapServers,
        GroupId = "group-" + Guid.NewGuid().ToString("N"),
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = true,
        // Classic rebalances wait for the session timeout: keep it short.
        SessionTimeoutMs = 6_000,
        HeartbeatIntervalMs = 500,
        ReconnectBackoffMs = 100,
        ReconnectBackoffMaxMs = 1_000,
    };

    /// <summary>Builds a producer whose librdkafka log lines (expected connection errors in fault tests) are dropped.</summary>
    public static IProducer<string, string> BuildProducer(ProducerConfig config) =>
        new ProducerBuilder<string, string>(config).SetLogHandler(static (_, _) => { }).Build();

    /// <summary>Builds a consumer whose librdkafka log lines are dropped.</summary>
    public static IConsumer<TKey, TValue> BuildConsumer<TKey, TValue>(ConsumerConfig config) =>
        new ConsumerBuilder<TKey, TValue>(config).SetLogHandler(static (_, _) => { }).Build();

    /// <summary>Consumes from <paramref name="topic"/> in a new consumer group until <paramref name="expected"/> records arrived.</summary>
    public static Task<List<ConsumedRecord>> ConsumeAsync(string bootstrapServers, string topic, int expected, TimeSpan timeout) =>
        Task.Factory.StartNew(
            () =>
            {
                var records = new List<ConsumedRecord>(expected);
                using var consumer = BuildConsumer<string, string>(GroupConsumer(bootstrapServers));
                consumer.Subscribe(topic);
                var clock = Stopwatch.StartNew();
                while (records.Count < expected && clock.Elapsed < timeout)
                {
                    var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                    if (result is { IsPartitionEOF: false, Message: not null })
                    {
                        records.Add(new ConsumedRecord(result.Message.Key, result.Message.Value, result.Partition.Value, result.Offset.Value));
                    }
                }

                consumer.Close();
                return records;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

    /// <summary>Asserts that every produced (key, sequence) arrived exactly once, in order per key, each key on one partition.</summary>
    public static void AssertExactlyOnceInKeyOrder(IReadOnlyDictionary<string, int> producedPerKey, IReadOnlyList<ConsumedRecord> consumed)
    {
        var total = producedPerKey.Values.Sum();
        var duplicates = consumed.GroupBy(r => r.Value).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToList();
        Assert.True(duplicates.Count == 0, $"duplicated: {string.Join(", ", duplicates)}");
        Assert.Equal(total, consumed.Count);

        foreach (var group in consumed.GroupBy(r => r.Key))
        {
            Assert.Single(group.Select(r => r.Partition).Distinct());
            var sequences = group.Select(r => int.Parse(r.Value.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(Enumerable.Range(0, producedPerKey[group.Key]), sequences);
        }

        Assert.Equal(producedPerKey.Count, consumed.Select(r => r.Key).Distinct().Count());
    }

    /// <summary>Counts delivery reports, remembering each key's partition and every error.</summary>
    internal sealed class DeliveryTracker
    {
        private int _delivered;

        public ConcurrentDictionary<string, int> PartitionOfKey { get; } = new();

        public ConcurrentQueue<Error> Errors { get; } = new();

        public int Delivered => Volatile.Read(ref _delivered);

        public void Handle(DeliveryReport<string, string> report)
        {
            if (report.Error.IsError)
            {
                Errors.Enqueue(report.Error);
                return;
            }

            var partition = report.Partition.Value;
            var known = PartitionOfKey.GetOrAdd(report.Message.Key, partition);
            if (known != partition)
            {
                Errors.Enqueue(new Error(ErrorCode.Unknown, $"key {report.Message.Key} moved from partition {known} to {partition}"));
            }

            Interlocked.Increment(ref _delivered);
        }
    }
}
