using System.Text.Json;
using Confluent.Kafka;
using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxDeduplicationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Same_event_id_at_a_new_offset_takes_effect_once()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        await harness.StartConsumerAsync(group, behavior, c => c
            .Subscribe<MovieStarted, RecordingHandler>()
            .Subscribe<MovieStarted, AuditHandler>());

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2)]);

        // What a relay does when it dies between Kafka's ack and its bookkeeping: the same record again, new offset.
        var replay = await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 1)), ids[0], nameof(MovieStarted));
        var later = await harness.ProduceAsync([new("u1", 3)]);

        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == replay.Offset.Value + 2, "every record is consumed");

        var effects = await harness.EffectsAsync();
        Assert.Equal([ids[0], ids[1], later[0]], effects.Select(e => e.EventId));
        Assert.Equal([1, 2, 3], effects.Select(e => e.Sequence));
        Assert.Equal(3, (await harness.EffectsAsync(nameof(AuditHandler))).Count);
        Assert.Equal(1, behavior.CallCount(ids[0]));
        Assert.Equal(3, await harness.ScalarAsync("SELECT count(*) FROM outbox.inbox WHERE consumer_group = $1", group));
        Assert.Equal(replay.Offset.Value - 2, await harness.ScalarAsync("SELECT \"offset\" FROM outbox.inbox WHERE message_id = $1", ids[0]));
    }

    [Fact]
    public async Task Restart_after_the_database_commit_but_before_the_Kafka_commit_takes_effect_once_even_after_cleanup()
    {
        const int partitions = 3;
        await using var harness = await InboxHarness.CreateAsync(output, partitions);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var first = Enumerable.Range(1, 30).Select(i => new MovieStarted("u" + (i % 5), i)).ToList();
        var ids = await harness.ProduceAsync(first);

        // First run: Kafka never learns an offset (as if the process died after every database commit, before the
        // Kafka commit).
        var crashing = await harness.StartConsumerAsync(group, new HandlerBehavior { ConsumerName = "crashing" },
            consumerConfig: c => c.EnableAutoCommit = false);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == ids.Count, "the first run handled every event");
        await harness.StopAsync(crashing);
        Assert.All(harness.KafkaCommittedOffsets(group, partitions), o => Assert.Equal(Offset.Unset, o.Offset));

        // Restart: Kafka would start from the beginning; the stored offsets say where to resume.
        var restarted = await harness.StartConsumerAsync(group, new HandlerBehavior { ConsumerName = "restarted" },
            consumerConfig: c => c.EnableAutoCommit = false);
        var marker = await harness.ProduceAsync([new("marker-1", 100)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Any(e => e.EventId == marker[0]), "the restarted consumer handled a new event");
        await harness.StopAsync(restarted);

        // Restart again after the dedup rows were cleaned up (Kafka still has no offset): only the stored offsets
        // stand between the records and a second effect.
        await harness.ExecuteAsync("DELETE FROM outbox.inbox");
        var afterCleanup = await harness.StartConsumerAsync(group, new HandlerBehavior { ConsumerName = "after-cleanup" },
            consumerConfig: c => c.EnableAutoCommit = false);
        var marker2 = await harness.ProduceAsync([new("marker-2", 101)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Any(e => e.EventId == marker2[0]), "the consumer handled a new event after cleanup");
        await harness.StopAsync(afterCleanup);

        Assert.All(harness.KafkaCommittedOffsets(group, partitions), o => Assert.Equal(Offset.Unset, o.Offset));
        var effects = await harness.EffectsAsync();
        Assert.Equal(ids.Count + 2, effects.Count);
        Assert.Equal(effects.Count, effects.Select(e => e.EventId).Distinct().Count());
        Assert.Equal(ids.Count, effects.Count(e => e.Consumer == "crashing"));
    }

    [Fact]
    public async Task Events_of_types_the_group_does_not_handle_are_skipped_and_their_offsets_move_on()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await harness.StartConsumerAsync(group, new HandlerBehavior());

        var rated = await harness.ProduceRawAsync("u1", JsonSerializer.SerializeToUtf8Bytes(new MovieRated("u1", 5)), Guid.NewGuid().ToString(), nameof(MovieRated));
        var ids = await harness.ProduceAsync([new("u1", 1)]);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the handled event took effect");
        Assert.Equal(ids[0], (await harness.EffectsAsync())[0].EventId);
        Assert.Equal(rated.Offset.Value + 2, (await harness.StoredOffsetsAsync(group))[0]);
        Assert.Empty(await harness.ReadDeadLettersAsync(1, TimeSpan.FromSeconds(1)));
    }
}
