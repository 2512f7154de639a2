using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Outbox.Inbox;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Providers;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxRebalanceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("range,roundrobin")]
    [InlineData("cooperative-sticky")]
    public async Task Two_consumers_then_a_third_joining_and_one_leaving_take_effect_once_in_key_order(string assignmentStrategy)
    {
        void Strategy(ConsumerConfig config) => config.Set("partition.assignment.strategy", assignmentStrategy);

        const int keys = 12;
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 6);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var sequences = new int[keys];
        var produced = new List<string>();

        // Each round produces the next sequence number of every key.
        async Task RoundsAsync(int rounds)
        {
            for (var r = 0; r < rounds; r++)
            {
                var events = Enumerable.Range(0, keys).Select(k => new MovieStarted("user-" + k, ++sequences[k])).ToList();
                produced.AddRange(await harness.ProduceAsync(events));
            }
        }

        var a = new HandlerBehavior { ConsumerName = "a", Delay = TimeSpan.FromMilliseconds(2) };
        var b = new HandlerBehavior { ConsumerName = "b", Delay = TimeSpan.FromMilliseconds(2) };
        var c = new HandlerBehavior { ConsumerName = "c", Delay = TimeSpan.FromMilliseconds(2) };

        await RoundsAsync(5);
        var hostA = await harness.StartConsumerAsync(group, a, consumerConfig: Strategy);
        await harness.StartConsumerAsync(group, b, consumerConfig: Strategy);
        await RoundsAsync(5);

        // Keeps producing (paced, while the group rebalances) until a member got partitions and handled events.
        async Task ProduceUntilAsync(Func<bool> condition, string because)
        {
            var limit = DateTime.UtcNow + Eventually.DefaultTimeout;
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < limit, $"Timed out waiting until {because}.");
                await RoundsAsync(1);
                await Task.Delay(100); // Paces production; not a synchronisation.
            }
        }

        await ProduceUntilAsync(() => !a.Calls.IsEmpty && !b.Calls.IsEmpty, "both first consumers handle events");

        // A third member joins mid-stream: the group rebalances while records are in flight.
        await harness.StartConsumerAsync(group, c, consumerConfig: Strategy);
        await ProduceUntilAsync(() => !c.Calls.IsEmpty, "the third consumer handles events");
        await RoundsAsync(3);

        // One leaves mid-stream: its partitions move on after its in-flight work finished.
        await harness.StopAsync(hostA);
        await RoundsAsync(5);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count >= produced.Count, $"all {produced.Count} events took effect");

        var effects = await harness.EffectsAsync();
        Assert.Equal(produced.Count, effects.Count);
        Assert.Equal(produced.Order(StringComparer.Ordinal), effects.Select(e => e.EventId).Order(StringComparer.Ordinal));
        foreach (var perKey in effects.GroupBy(e => e.UserId))
        {
            // Effects are rows in commit order (bigserial): each key's sequence must come out 1, 2, 3, ...
            Assert.Equal(Enumerable.Range(1, sequences[int.Parse(perKey.Key["user-".Length..], System.Globalization.CultureInfo.InvariantCulture)]), perKey.Select(e => e.Sequence));
        }

        Assert.Equal(3, effects.Select(e => e.Consumer).Distinct().Count());
        output.WriteLine($"effects by consumer: {string.Join(", ", effects.GroupBy(e => e.Consumer).Select(g => $"{g.Key}={g.Count()}"))}; handler calls: {a.Calls.Count + b.Calls.Count + c.Calls.Count}");
    }

    [Fact]
    public async Task A_member_that_lost_its_partition_and_commits_late_never_moves_the_stored_offset_back()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var first = await harness.ProduceAsync(Enumerable.Range(1, 10).Select(s => new MovieStarted("user-1", s)));
        var owner = new HandlerBehavior { ConsumerName = "owner" };
        var ownerHost = await harness.StartConsumerAsync(group, owner);
        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 10, "the owner handles the first ten records");

        // The member that owned the partition before: it had fetched offsets 3 and 4, was paused (a GC pause, SIGSTOP,
        // a network partition) long enough to be thrown out of the group, and wakes up to commit its transaction for
        // them, through the same pipeline a partition worker runs, after the new owner stored offset 10.
        var (processor, routes) = MemberPipeline(ownerHost.Services, group);
        var late = ReadRecords(harness, harness.MovieTopic, fromOffset: 3, count: 2).Select(routes.Read).ToList();
        var completed = new List<long>();
        Assert.True(await processor.ProcessAsync(late, completed.Add, CancellationToken.None, CancellationToken.None));
        Assert.Equal([5L], completed);

        // Committed, as duplicates (the inbox rows of the owner): no second effect, and the stored offset stays.
        Assert.Equal(10L, (await harness.StoredOffsetsAsync(group))[0]);
        Assert.Equal(10, (await harness.EffectsAsync()).Count);

        // A restart after the inbox rows aged out (the cleanup job deletes rows older than InboxRetention): only the
        // stored offset keeps the group from handling offsets 5 to 9 again.
        await harness.StopAsync(ownerHost);
        await harness.ExecuteAsync($"DELETE FROM outbox.inbox WHERE consumer_group = '{group}'");
        var later = await harness.ProduceAsync(Enumerable.Range(11, 2).Select(s => new MovieStarted("user-1", s)));
        var next = new HandlerBehavior { ConsumerName = "next" };
        await harness.StartConsumerAsync(group, next);
        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 12, "the restarted group handles the new records");

        var effects = await harness.EffectsAsync();
        Assert.Equal(first.Concat(later), effects.Select(e => e.EventId));
        Assert.Equal(later, next.Calls.Select(c => c.EventId));
    }

    /// <summary>The inbox pipeline of a member of <paramref name="group"/>, built from an application's services as the consumer host builds it.</summary>
    private static (InboxProcessor Processor, InboxRoutes Routes) MemberPipeline(IServiceProvider services, string group)
    {
        var routes = new InboxRoutes(
            group,
            services.GetRequiredService<IOptionsMonitor<InboxSubscriptions>>().Get(group).Items,
            services.GetRequiredService<OutboxEventRegistry>(),
            services.GetRequiredService<IOptions<OutboxOptions>>().Value);
        var processor = new InboxProcessor(
            services.GetRequiredService<IServiceScopeFactory>(),
            services.GetRequiredService<IInboxStore>(),
            new NoDeadLetters(),
            new InboxSettings { ConsumerGroup = group, DbContextType = typeof(InboxTestDb) },
            TimeProvider.System,
            services.GetRequiredService<InboxTelemetry>(),
            NullLogger.Instance);
        return (processor, routes);
    }

    /// <summary>Reads records of partition 0 as the consumer host hands them to the pipeline.</summary>
    private static List<InboxRecord> ReadRecords(InboxHarness harness, string topic, long fromOffset, int count)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = harness.Kafka.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, fromOffset));
        var records = new List<InboxRecord>();
        var limit = DateTime.UtcNow + Eventually.DefaultTimeout;
        while (records.Count < count)
        {
            Assert.True(DateTime.UtcNow < limit, $"Timed out reading {count} records of {topic} from offset {fromOffset}.");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result?.Message is not { } message)
            {
                continue;
            }

            var headers = message.Headers.Select(h => new KeyValuePair<string, byte[]?>(h.Key, h.GetValueBytes())).ToList();
            records.Add(new InboxRecord
            {
                Topic = result.Topic,
                Partition = result.Partition.Value,
                Offset = result.Offset.Value,
                Id = Encoding.UTF8.GetString(message.Headers.GetLastBytes("id")),
                Type = Encoding.UTF8.GetString(message.Headers.GetLastBytes("type")),
                Key = message.Key,
                Value = message.Value,
                Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(message.Timestamp.UnixTimestampMs),
                Headers = headers,
            });
        }

        return records;
    }

    private sealed class NoDeadLetters : IDeadLetterPublisher
    {
        public Task<string> PublishAsync(InboxRecord record, string consumerGroup, DeadLetter deadLetter, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The late member has nothing to dead-letter in this test.");
    }
}
