using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxConcurrencyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_partition_waiting_out_its_retry_backoff_holds_no_concurrency_slot()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 2);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;
        await harness.StartConsumerAsync(group, behavior, options: o =>
        {
            o.MaxConcurrency = 1;
            o.MaxAttempts = 5;
            o.InitialRetryDelay = TimeSpan.FromMinutes(2);
            o.MaxRetryDelay = TimeSpan.FromMinutes(2);
        });

        var poisonId = Guid.NewGuid().ToString();
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 1)), poisonId, nameof(MovieStarted), partition: 0);
        await Eventually.TrueAsync(() => behavior.CallCount(poisonId) == 1, "the poison record failed once and waits out its backoff");

        var others = new List<string>();
        for (var i = 2; i <= 4; i++)
        {
            var id = Guid.NewGuid().ToString();
            await harness.ProduceRawAsync("u2", InboxHarness.Serialize(new("u2", i)), id, nameof(MovieStarted), partition: 1);
            others.Add(id);
        }

        // Well within the 2-minute backoff of partition 0.
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 3, "partition 1 was handled meanwhile", TimeSpan.FromSeconds(60));
        Assert.Equal(others, (await harness.EffectsAsync()).Select(e => e.EventId));
        Assert.Equal(1, behavior.CallCount(poisonId));
    }
}
