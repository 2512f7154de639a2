using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>A record Kafka can never take is retried with backoff, then dead-lettered; nothing else waits for it for long.</summary>
public sealed class PoisonRecordTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_record_over_the_producer_size_limit_is_dead_lettered_after_MaxAttempts_and_the_lanes_continue()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 16);
        var poisonLane = harness.LaneOf("poison");
        await harness.WriteAsync(new RelayTestEvent("poison", 0));

        // Under OutboxOptions.MaxPayloadBytes (1 MiB), over the producer's message.max.bytes (1,000,000).
        await harness.WriteAsync(new RelayTestEvent("poison", 1, new string('x', 1_010_000)));
        await harness.WriteAsync(new RelayTestEvent("poison", 2));
        var written = await harness.WriteManyAsync(400, keys: 40);
        var sameLane = written.Keys.Where(k => harness.LaneOf(k) == poisonLane).ToList();
        Assert.NotEmpty(written.Keys.Except(sameLane));

        var host = await harness.StartRelayHostAsync("relay-1", o =>
        {
            o.MaxAttempts = 3;
            o.RetryBaseDelay = TimeSpan.FromSeconds(5);
            o.RetryMaxDelay = TimeSpan.FromSeconds(5);
        });
        var relay = RelayHarness.RelayOf(host);

        // The poison row fails and waits for its retries; meanwhile every other lane drains.
        await Eventually.TrueAsync(
            async () => await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE aggregateid = 'poison' AND attempts >= 1 AND next_attempt_at > created_at") == 1,
            "the poison row failed once");
        await Eventually.TrueAsync(
            async () => await harness.ScalarAsync($"SELECT count(*) FROM outbox.messages WHERE lane <> {poisonLane}") == 0,
            "every other lane is drained");
        Assert.Equal(0, await harness.ScalarAsync("SELECT count(*) FROM outbox.dead_letters"));
        Assert.Equal(1, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages WHERE aggregateid = 'poison' AND attempts BETWEEN 1 AND 2"));

        await harness.WaitUntilDrainedAsync();
        Assert.Equal(1, relay.Parked);
        Assert.Equal(3, relay.FailedAttempts);
        await using (var command = harness.DataSource.CreateCommand("SELECT aggregateid, attempts, last_error, length(payload::text), commit_seq IS NOT NULL, dead_lettered_at >= created_at FROM outbox.dead_letters"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal("poison", reader.GetString(0));
            Assert.Equal(3, reader.GetInt32(1));
            Assert.Contains("SizeTooLarge", reader.GetString(2), StringComparison.Ordinal);
            Assert.True(reader.GetInt32(3) > 1_010_000);
            Assert.True(reader.GetBoolean(4));
            Assert.True(reader.GetBoolean(5));
            Assert.False(await reader.ReadAsync());
        }

        var records = harness.ReadTopic(402);
        Assert.Equal([0, 2], records.Where(r => r.Key == "poison").Select(r => r.Seq));
        harness.AssertAllInOrder(records.Where(r => r.Key != "poison").ToList(), written);
    }
}
