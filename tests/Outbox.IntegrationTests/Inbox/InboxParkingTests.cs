using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.Kafka;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>
/// A record that fails for good parks its key in its partition: it is stored in the parked table (and sent to the
/// dead-letter topic), later records of its key are held there in order, other keys go on; replay and discard release it.
/// </summary>
public sealed class InboxParkingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_record_whose_id_has_a_NUL_byte_is_parked_at_once_and_the_partition_goes_on()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 1000);

        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 1)), "bad\0id", nameof(MovieStarted));
        var good = await harness.ProduceAsync([new("u2", 1)]);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the record of the other key took effect");
        Assert.Equal(good, (await harness.EffectsAsync()).Select(e => e.EventId));
        var parked = Assert.Single(await harness.ParkedAsync(group));
        Assert.Equal((0L, "u1", "parked", "rejected"), (parked.Offset, parked.Key, parked.State, parked.Reason));
        Assert.Equal("bad\uFFFDid", parked.MessageId);
        Assert.Contains("22021", parked.Error, StringComparison.Ordinal);
        Assert.Equal(1, parked.Attempts);
        Assert.Equal(2, (await harness.StoredOffsetsAsync(group))[0]);
        Assert.Equal("rejected", InboxHarness.Header(Assert.Single(await harness.ReadDeadLettersAsync(1)), DeadLetterHeaders.Reason));
    }

    [Fact]
    public async Task A_record_whose_id_has_7000_characters_is_parked_at_once_and_the_partition_goes_on()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 1000);

        // Random characters: PostgreSQL compresses a repetitive value below the index row limit.
        var longId = string.Concat(Enumerable.Range(0, 220).Select(_ => Guid.NewGuid().ToString("N")))[..7000];
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 1)), longId, nameof(MovieStarted));
        var good = await harness.ProduceAsync([new("u2", 1)]);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the record of the other key took effect");
        Assert.Equal(good, (await harness.EffectsAsync()).Select(e => e.EventId));
        var parked = Assert.Single(await harness.ParkedAsync(group));
        Assert.Equal((0L, "u1", "parked", "rejected", longId), (parked.Offset, parked.Key, parked.State, parked.Reason, parked.MessageId));
        Assert.Contains("54000", parked.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deferred_unique_constraint_failing_at_commit_parks_the_record_at_once_and_the_partition_goes_on()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        await harness.ExecuteAsync("CREATE TABLE deferred_unique (value text, CONSTRAINT deferred_unique_value UNIQUE (value) DEFERRABLE INITIALLY DEFERRED)");
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        await harness.StartConsumerAsync(group, behavior, c => c.Subscribe<MovieStarted, DeferredConstraintHandler>(), o => o.MaxAttempts = 1000);

        var ids = await harness.ProduceAsync([new("u1", 1, "dup"), new("u2", 1), new("u1", 2)]);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the record of the other key took effect");
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == 2, "the later record of the parked key is held");
        Assert.Equal([ids[1]], (await harness.EffectsAsync()).Select(e => e.EventId));
        var rows = await harness.ParkedAsync(group);
        Assert.Equal([(0L, "parked", "rejected"), (2L, "held", "key-parked")], rows.Select(r => (r.Offset, r.State, r.Reason)));
        Assert.Contains("23505", rows[0].Error, StringComparison.Ordinal);
        Assert.Equal(1, behavior.CallCount(ids[0]));
        Assert.Equal(0, behavior.CallCount(ids[2]));
    }

    [Fact]
    public async Task Later_records_of_a_parked_key_are_held_across_a_restart_and_a_replay_handles_them_in_order()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[2] = int.MaxValue;
        var host = await harness.StartConsumerAsync(group, behavior, options: o =>
        {
            o.MaxAttempts = 2;
            o.ParkedCheckInterval = TimeSpan.FromMilliseconds(100);
        });

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2), new("u1", 3), new("u2", 11), new("u1", 4), new("u2", 12)]);
        await Eventually.TrueAsync(async () => (await harness.StoredOffsetsAsync(group)).GetValueOrDefault(0) == 6, "every record is consumed");
        Assert.Equal([ids[0], ids[3], ids[5]], (await harness.EffectsAsync()).Select(e => e.EventId));
        Assert.Equal(
            [(1L, "parked", "handler-failed", 2), (2L, "held", "key-parked", 0), (4L, "held", "key-parked", 0)],
            (await harness.ParkedAsync(group)).Select(r => (r.Offset, r.State, r.Reason, r.Attempts)));

        // A new owner reads the parked keys at assignment: the key stays parked, the other key flows.
        await harness.StopAsync(host);
        host = await harness.StartConsumerAsync(group, behavior, options: o => o.ParkedCheckInterval = TimeSpan.FromMilliseconds(100));
        var later = await harness.ProduceAsync([new("u1", 5), new("u2", 13)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 4, "the other key's new record took effect");
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == 4, "the parked key's new record is held");

        var parking = host.Services.GetRequiredService<InboxParking>();
        var key = Assert.Single(await parking.ListAsync(group, 10));
        Assert.Equal((harness.MovieTopic, 0, "u1", 1L, ParkedInboxRecordState.Parked, ids[1], 3L), (key.Topic, key.Partition, key.Key, key.HeadOffset, key.HeadState, key.MessageId, key.HeldCount));
        Assert.Equal(nameof(MovieStarted), key.Type);
        Assert.Contains("Handler failure 2 for sequence 2", key.Error, StringComparison.Ordinal);
        Assert.Equal([1L, 2L, 4L, 6L], (await parking.GetAsync(group, harness.MovieTopic, 0, "u1")).Select(r => r.Offset));

        // The handler is fixed; the replay handles the key's records in offset order, then the key flows again.
        behavior.FailuresBySequence.Clear();
        Assert.True(await parking.ReplayAsync(group, harness.MovieTopic, 0, "u1"));
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == 0, "the replay emptied the parked table");
        var last = await harness.ProduceAsync([new("u1", 6)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 9, "the released key's new record took effect");

        var effects = await harness.EffectsAsync();
        Assert.Equal([1, 2, 3, 4, 5, 6], effects.Where(e => e.UserId == "u1").Select(e => e.Sequence));
        Assert.Equal([ids[1], ids[2], ids[4], later[0], last[0]], effects.Where(e => e.UserId == "u1").Skip(1).Select(e => e.EventId));
        Assert.Equal(1, effects.Single(e => e.EventId == ids[1]).Attempt);
        Assert.Empty(await parking.ListAsync(group, 10));
    }

    [Fact]
    public async Task A_replay_whose_first_record_fails_again_parks_it_again_with_the_rest_still_held()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;
        var host = await harness.StartConsumerAsync(group, behavior, options: o =>
        {
            o.MaxAttempts = 2;
            o.ParkedCheckInterval = TimeSpan.FromMilliseconds(100);
        });

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2)]);
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == 2, "the key is parked with one record held");
        var parking = host.Services.GetRequiredService<InboxParking>();
        Assert.True(await parking.ReplayAsync(group, harness.MovieTopic, 0, "u1"));

        await Eventually.TrueAsync(() => behavior.CallCount(ids[0]) == 4, "the replay tried the parked record again, attempts counted from 1");
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).All(r => !r.ReplayRequested), "the replay ended");
        Assert.Equal([(0L, "parked", 2), (1L, "held", 0)], (await harness.ParkedAsync(group)).Select(r => (r.Offset, r.State, r.Attempts)));
        Assert.Equal([1, 2, 1, 2], behavior.Calls.Where(c => c.EventId == ids[0]).Select(c => c.Attempt));
        Assert.Equal(0, behavior.CallCount(ids[1]));
        Assert.Empty(await harness.EffectsAsync());

        // Parked again without a second dead-letter record.
        Assert.Single(await harness.ReadDeadLettersAsync(2, TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task Discard_deletes_the_parked_record_and_replays_the_held_ones_in_order()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;
        var host = await harness.StartConsumerAsync(group, behavior, options: o =>
        {
            o.MaxAttempts = 1;
            o.ParkedCheckInterval = TimeSpan.FromMilliseconds(100);
        });

        var ids = await harness.ProduceAsync([new("u1", 1), new("u1", 2), new("u1", 3)]);
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == 3, "the key is parked with two records held");
        var parking = host.Services.GetRequiredService<InboxParking>();
        Assert.True(await parking.DiscardAsync(group, harness.MovieTopic, 0, "u1"));

        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == 0, "the held records were replayed");
        Assert.Equal([ids[1], ids[2]], (await harness.EffectsAsync()).Select(e => e.EventId));
        Assert.Equal(1, behavior.CallCount(ids[0]));
        Assert.False(await parking.DiscardAsync(group, harness.MovieTopic, 0, "u1"));

        var next = await harness.ProduceAsync([new("u1", 4)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 3, "the released key flows again");
        Assert.Equal(next[0], (await harness.EffectsAsync())[2].EventId);
    }

    [Fact]
    public async Task A_record_without_a_key_parks_only_itself()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;
        await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 1);

        await harness.ProduceRawAsync(null, InboxHarness.Serialize(new("u1", 1)), Guid.NewGuid().ToString(), nameof(MovieStarted));
        var otherId = Guid.NewGuid().ToString();
        await harness.ProduceRawAsync(null, InboxHarness.Serialize(new("u1", 2)), otherId, nameof(MovieStarted));

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the next record without a key took effect");
        Assert.Equal(otherId, (await harness.EffectsAsync())[0].EventId);
        Assert.Equal([(0L, (string?)null, "parked")], (await harness.ParkedAsync(group)).Select(r => (r.Offset, r.Key, r.State)));
    }

    [Fact]
    public async Task A_dead_letter_over_the_producers_size_limit_is_parked_in_the_table_and_the_partition_goes_on()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;
        await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 1, kafka: k => k.Producer.MessageMaxBytes = 20_000);

        // Under the limit as it is; over it with the dlq.* headers added.
        var big = await harness.ProduceAsync([new("u1", 1, new string('x', 19_700))]);
        var good = await harness.ProduceAsync([new("u2", 2)]);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the record of the other key took effect");
        Assert.Equal(good, (await harness.EffectsAsync()).Select(e => e.EventId));
        var parked = Assert.Single(await harness.ParkedAsync(group));
        Assert.Equal((0L, "parked", "handler-failed", big[0]), (parked.Offset, parked.State, parked.Reason, parked.MessageId));
        Assert.Contains("the dead-letter topic refused it", parked.Error, StringComparison.Ordinal);
        Assert.Empty(await harness.ReadDeadLettersAsync(1, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task A_dead_letter_topic_that_refuses_writes_falls_back_to_the_table_and_the_partition_goes_on()
    {
        // A cluster of this test's own: the injected produce errors must not reach other tests' producers.
        await using var kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1 });
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1, privateKafka: kafka);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;

        var ids = await harness.ProduceAsync([new("u1", 1), new("u2", 2)]);
        kafka.PushRequestErrors(KafkaApiKey.Produce, Enumerable.Repeat(ErrorCode.TopicAuthorizationFailed, 20).ToArray());
        await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 1);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the record of the other key took effect");
        Assert.Equal([ids[1]], (await harness.EffectsAsync()).Select(e => e.EventId));
        var parked = Assert.Single(await harness.ParkedAsync(group));
        Assert.Equal((0L, "parked", "handler-failed"), (parked.Offset, parked.State, parked.Reason));
        Assert.Contains("the dead-letter topic refused it", parked.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreadable_record_the_dead_letter_topic_refuses_is_kept_in_the_table_and_its_key_goes_on()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        var host = await harness.StartConsumerAsync(group, behavior, options: o => o.ParkedCheckInterval = TimeSpan.FromMilliseconds(100), kafka: k => k.Producer.MessageMaxBytes = 20_000);

        await harness.ProduceRawAsync("u1", Encoding.UTF8.GetBytes("{\"userId\": \"" + new string('x', 19_800)), Guid.NewGuid().ToString(), nameof(MovieStarted));
        var good = await harness.ProduceAsync([new("u1", 2)]);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the next record of the same key took effect");
        Assert.Equal(good, (await harness.EffectsAsync()).Select(e => e.EventId));
        Assert.Equal([(0L, "dead_letter", "malformed-payload")], (await harness.ParkedAsync(group)).Select(r => (r.Offset, r.State, r.Reason)));

        // A replay tries the dead-letter topic again; while it refuses, the record stays, holding nothing back.
        var parking = host.Services.GetRequiredService<InboxParking>();
        Assert.True(await parking.ReplayAsync(group, harness.MovieTopic, 0, "u1"));
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).All(r => !r.ReplayRequested), "the replay ended");
        Assert.Equal([(0L, "dead_letter", "malformed-payload")], (await harness.ParkedAsync(group)).Select(r => (r.Offset, r.State, r.Reason)));
        var next = await harness.ProduceAsync([new("u1", 3)]);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 2, "the key still goes on");
    }

    [Fact]
    public async Task An_unreadable_record_of_a_parked_key_is_held_behind_it()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var behavior = new HandlerBehavior();
        behavior.FailuresBySequence[1] = int.MaxValue;
        await harness.StartConsumerAsync(group, behavior, options: o => o.MaxAttempts = 1);

        await harness.ProduceAsync([new("u1", 1)]);
        await harness.ProduceRawAsync("u1", InboxHarness.Serialize(new("u1", 2)), Guid.NewGuid().ToString(), "MovieDeleted");
        var other = await harness.ProduceAsync([new("u2", 3)]);

        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == 1, "the other key's record took effect");
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == 2, "the unreadable record is held");
        Assert.Equal(other, (await harness.EffectsAsync()).Select(e => e.EventId));
        Assert.Equal([(0L, "parked"), (1L, "held")], (await harness.ParkedAsync(group)).Select(r => (r.Offset, r.State)));

        // Only the parked record was dead-lettered; the held one goes there when the key is replayed.
        Assert.Equal(["handler-failed"], (await harness.ReadDeadLettersAsync(2, TimeSpan.FromSeconds(3))).Select(d => InboxHarness.Header(d, DeadLetterHeaders.Reason)));
    }
}
