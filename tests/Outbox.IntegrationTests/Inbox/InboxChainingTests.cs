using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxChainingTests(ITestOutputHelper output)
{
    private static readonly JsonSerializerOptions WebJson = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task Outbox_event_added_by_a_handler_commits_with_its_transaction_and_is_relayed_once()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");

        // The handler adds the chained event and saves (the outbox row is written in the consumer's transaction),
        // then fails once on sequence 2: that attempt's outbox row must roll back with it.
        var behavior = new HandlerBehavior { EmitChainedEvent = true, SaveBeforeFailing = true };
        behavior.FailuresBySequence[2] = 1;
        await harness.StartConsumerAsync(group, behavior, withPollingRelay: true);

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2), new("u1", 3)]);
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 1)), ids[0], nameof(MovieStarted));
        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 4, "every record is consumed");

        Assert.Equal(ids, (await harness.EffectsAsync()).Select(e => e.EventId));
        Assert.Equal(2, behavior.CallCount(ids[1]));

        // Every handled event produced exactly one chained event on Kafka, through the relay.
        var chained = await ReadAllAsync(harness, expected: 3);
        Assert.Equal(ids, chained.Select(r => JsonSerializer.Deserialize<StreamOpened>(r.Message.Value, WebJson)!.SourceEventId));
        Assert.All(chained, r => Assert.Equal("u1", Encoding.UTF8.GetString(r.Message.Key)));
        Assert.All(chained, r => Assert.Equal(nameof(StreamOpened), Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes("type"))));

        // Nothing else is left or was written: the rolled-back attempt's row never existed for the relay.
        Assert.Empty(await ReadAllAsync(harness, expected: 1, from: chained[^1].Offset.Value + 1, timeout: TimeSpan.FromSeconds(2)));
    }

    private static async Task<List<ConsumeResult<byte[], byte[]>>> ReadAllAsync(InboxHarness harness, int expected, long from = 0, TimeSpan? timeout = null)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = harness.Kafka.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(harness.StreamTopic, 0, from));
        var records = new List<ConsumeResult<byte[], byte[]>>();
        var limit = DateTime.UtcNow + (timeout ?? Eventually.DefaultTimeout);
        await Task.Run(() =>
        {
            while (records.Count < expected && DateTime.UtcNow < limit)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (result is not null && !result.IsPartitionEOF)
                {
                    records.Add(result);
                }
            }
        });
        return records;
    }
}
