using Confluent.Kafka;
using Outbox.IntegrationTests.Infrastructure;
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
}
