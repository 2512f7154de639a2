using System.Text;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxFailureTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Handler_that_throws_twice_then_succeeds_takes_effect_once()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior { SaveBeforeFailing = true };
        behavior.FailuresBySequence[2] = 2;
        await harness.StartConsumerAsync(group, behavior);

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2), new("u1", 3)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 3, "every event took effect");

        var effects = await harness.EffectsAsync();
        Assert.Equal(ids, effects.Select(e => e.EventId));
        Assert.Equal(3, behavior.CallCount(ids[1]));
        Assert.Equal(3, effects[1].Attempt);
        Assert.Equal([1, 2, 3], behavior.Calls.Where(c => c.EventId == ids[1]).Select(c => c.Attempt));
        Assert.Empty(await harness.ReadDeadLettersAsync(1, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task A_context_with_a_retrying_execution_strategy_works_and_takes_effect_once()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior { SaveBeforeFailing = true, EmitChainedEvent = true };
        behavior.FailuresBySequence[1] = 1;
        await harness.StartConsumerAsync(group, behavior, retryOnFailure: true);

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2)]);
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 2)), ids[1], nameof(MovieStarted));
        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 3, "every record is consumed");

        Assert.Equal(ids, (await harness.EffectsAsync()).Select(e => e.EventId));
        Assert.Equal(2, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE type = 'StreamOpened'"));
    }

    [Fact]
    public async Task Handler_that_always_throws_is_dead_lettered_with_headers_and_parks_its_key_while_other_keys_are_handled()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior { SaveBeforeFailing = true };
        behavior.FailuresBySequence[2] = int.MaxValue;
        await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 3);

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2), new("u1", 3), new("u2", 4)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 2, "the records around the poison took effect");

        var dead = Assert.Single(await harness.ReadDeadLettersAsync(1));
        Assert.Equal(harness.MovieTopic, InboxHarness.Header(dead, DeadLetterHeaders.OriginalTopic));
        Assert.Equal("0", InboxHarness.Header(dead, DeadLetterHeaders.OriginalPartition));
        Assert.Equal("1", InboxHarness.Header(dead, DeadLetterHeaders.OriginalOffset));
        Assert.Equal(group, InboxHarness.Header(dead, DeadLetterHeaders.ConsumerGroup));
        Assert.Equal("handler-failed", InboxHarness.Header(dead, DeadLetterHeaders.Reason));
        Assert.Equal(typeof(InvalidOperationException).FullName, InboxHarness.Header(dead, DeadLetterHeaders.ErrorType));
        Assert.Contains("Handler failure 3 for sequence 2", InboxHarness.Header(dead, DeadLetterHeaders.ErrorMessage), StringComparison.Ordinal);
        Assert.Equal("3", InboxHarness.Header(dead, DeadLetterHeaders.Attempts));
        Assert.Equal(ids[1], InboxHarness.Header(dead, "id"));
        Assert.Equal(nameof(MovieStarted), InboxHarness.Header(dead, "type"));
        Assert.Equal("u1", Encoding.UTF8.GetString(dead.Message.Key!));
        Assert.Equal(InboxHarness.Serialize(new("u1", 2)), dead.Message.Value);

        // The poison parks its key: the key's later record is held behind it; the other key's record took effect.
        var effects = await harness.EffectsAsync();
        Assert.Equal([ids[0], ids[3]], effects.Select(e => e.EventId));
        Assert.Equal(3, behavior.CallCount(ids[1]));
        Assert.Equal(0, behavior.CallCount(ids[2]));
        Assert.Equal(
            [(1L, ids[1], "parked", 3), (2L, ids[2], "held", 0)],
            (await harness.ParkedAsync(group)).Select(r => (r.Offset, r.MessageId, r.State, r.Attempts)));

        // The failed attempts' rows (saved inside the transaction) rolled back; the poison has no inbox row, so a
        // replay after a fix is handled; its offset is stored so a restart does not redo it.
        Assert.Equal(0, await harness.ScalarAsync("SELECT count(*) FROM outbox.inbox WHERE message_id = $1", ids[1]));
        Assert.Equal(4, (await harness.StoredOffsetsAsync(group))[0]);
    }

    [Fact]
    public async Task Unknown_type_malformed_json_and_a_missing_id_are_dead_lettered_at_once()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        await harness.StartConsumerAsync(group, behavior);

        var unknownId = Guid.NewGuid().ToString();
        var malformedId = Guid.NewGuid().ToString();
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 1)), unknownId, "MovieDeleted");
        await harness.ProduceRawAsync("u1", "{\"userId\": \"u1\", \"sequence\": "u8.ToArray(), malformedId, nameof(MovieStarted));
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 2)), null, nameof(MovieStarted));
        var ids = await harness.ProduceAsync([new("u1", 3)]);

        var dead = await harness.ReadDeadLettersAsync(3);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the good record took effect");

        Assert.Equal(3, dead.Count);
        Assert.Equal(["0", "1", "2"], dead.Select(d => InboxHarness.Header(d, DeadLetterHeaders.OriginalOffset)));
        Assert.Equal(["unknown-event-type", "malformed-payload", "missing-id"], dead.Select(d => InboxHarness.Header(d, DeadLetterHeaders.Reason)));
        Assert.Equal(["0", "0", "0"], dead.Select(d => InboxHarness.Header(d, DeadLetterHeaders.Attempts)));
        Assert.Contains("'MovieDeleted' is not mapped", InboxHarness.Header(dead[0], DeadLetterHeaders.ErrorMessage), StringComparison.Ordinal);
        Assert.Contains("not a valid JSON", InboxHarness.Header(dead[1], DeadLetterHeaders.ErrorMessage), StringComparison.Ordinal);
        Assert.Equal(typeof(System.Text.Json.JsonException).FullName, InboxHarness.Header(dead[1], DeadLetterHeaders.ErrorType));
        Assert.Contains("no 'id' header", InboxHarness.Header(dead[2], DeadLetterHeaders.ErrorMessage), StringComparison.Ordinal);
        Assert.Equal(ids[0], (await harness.EffectsAsync())[0].EventId);
        Assert.DoesNotContain(behavior.Calls, c => c.EventId != ids[0]);
    }
}
