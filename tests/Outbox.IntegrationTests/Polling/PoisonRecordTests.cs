using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Relay;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>
/// One bad event holds back only its own key: it parks (or waits for its retry) with every later event of its key, in
/// order, while every other key, in its lane too, flows; an operator replays or discards the key.
/// </summary>
public sealed class PoisonRecordTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_record_the_producer_refuses_parks_only_its_key_while_every_other_key_of_its_lane_flows()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 4);
        var poisonLane = harness.LaneOf("poison");
        await harness.WriteAsync(new RelayTestEvent("poison", 0));

        // The writer's limit is 1 MiB; the relay's producer takes 20,480 bytes: this one it can never publish.
        await harness.WriteAsync(new RelayTestEvent("poison", 1, new string('x', 50_000)));
        await harness.WriteAsync(new RelayTestEvent("poison", 2));
        var written = await harness.WriteManyAsync(400, keys: 40);
        var sameLane = written.Keys.Where(k => harness.LaneOf(k) == poisonLane).ToList();
        Assert.NotEmpty(sameLane);

        var measurements = new ConcurrentQueue<(string Name, long Value, string Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name is "outbox.relay.parked" or "outbox.relay.failed")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            measurements.Enqueue((instrument.Name, value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}")))));
        listener.Start();
        var host = await harness.StartRelayHostAsync("relay-1", o => o.MaxAttempts = 5, RelayHarness.SmallProducer, RelayHarness.SmallPayloads);
        var relay = RelayHarness.RelayOf(host);

        await Eventually.TrueAsync(async () => await harness.PendingAsync() == 2, "everything but the poison key's two waiting events is published");
        await harness.WriteManyAsync(100, keys: 40, written: written);
        await Eventually.TrueAsync(async () => await harness.PendingAsync() == 2, "later events of other keys, in the poison key's lane too, flow");

        var parking = host.Services.GetRequiredService<OutboxParking>();
        var parked = Assert.Single(await parking.ListAsync());
        Assert.Equal(("order", "poison", ParkedKeyState.Parked), (parked.AggregateType, parked.AggregateId, parked.State));
        Assert.Equal(1, parked.Attempts);
        Assert.Equal(2, parked.WaitingEvents);
        Assert.Equal(poisonLane, parked.Lane);
        Assert.Contains("SizeTooLarge", parked.LastError, StringComparison.Ordinal);
        Assert.NotNull(parked.ParkedAt);
        Assert.Equal(1, relay.Parked);
        Assert.Single(measurements, m => m.Name == "outbox.relay.parked" && m.Tags.Contains("outbox.relay.type=polling", StringComparison.Ordinal) && m.Tags.Contains(harness.Topic, StringComparison.Ordinal));
        Assert.Single(measurements, m => m.Name == "outbox.relay.failed" && m.Tags.Contains("error.type=permanent", StringComparison.Ordinal) && m.Tags.Contains(harness.Topic, StringComparison.Ordinal));

        var records = harness.ReadTopic(501);
        Assert.Equal([0], records.Where(r => r.Key == "poison").Select(r => r.Seq));
        harness.AssertAllInOrder(records.Where(r => r.Key != "poison").ToList(), written);
    }

    [Fact]
    public async Task A_replayed_key_publishes_its_waiting_events_in_order_including_events_written_while_it_was_parked()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 4);
        await harness.WriteAsync(new RelayTestEvent("poison", 0));
        await harness.WriteAsync(new RelayTestEvent("poison", 1, new string('x', 50_000)));
        await harness.WriteAsync(new RelayTestEvent("poison", 2));
        var small = await harness.StartRelayHostAsync("small", kafka: RelayHarness.SmallProducer, outbox: RelayHarness.SmallPayloads);
        var parking = small.Services.GetRequiredService<OutboxParking>();
        await Eventually.TrueAsync(async () => (await parking.ListAsync()).Count == 1, "the key is parked");
        await harness.WriteAsync(new RelayTestEvent("poison", 3));
        await small.StopAsync();

        // The operator raises the relay's limit and replays the key; events of the key keep coming meanwhile.
        var relay = await harness.StartRelayHostAsync("large");
        var writing = Task.Run(async () =>
        {
            for (var seq = 4; seq < 40; seq++)
            {
                await harness.WriteAsync(new RelayTestEvent("poison", seq));
            }
        });
        Assert.True(await parking.ReplayAsync("order", "poison"));
        await writing;
        Assert.False(await parking.ReplayAsync("order", "poison"), "a key that is not held any more is not replayed again");

        await harness.WaitUntilDrainedAsync();
        var records = harness.ReadTopic(40);
        harness.AssertAllInOrder(records, new Dictionary<string, int> { ["poison"] = 40 });
        Assert.Empty(await parking.ListAsync(includeRetrying: true));
    }

    [Fact]
    public async Task Discarding_a_parked_key_moves_its_failed_event_to_the_dead_letters_and_publishes_the_rest_in_order()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 4);
        await harness.WriteAsync(new RelayTestEvent("poison", 0));
        await harness.WriteAsync(new RelayTestEvent("poison", 1, new string('x', 50_000)));
        await harness.WriteAsync(new RelayTestEvent("poison", 2));
        await harness.WriteAsync(new RelayTestEvent("poison", 3));
        var host = await harness.StartRelayHostAsync("relay", kafka: RelayHarness.SmallProducer, outbox: RelayHarness.SmallPayloads);
        var parking = host.Services.GetRequiredService<OutboxParking>();
        await Eventually.TrueAsync(async () => (await parking.ListAsync()).Count == 1, "the key is parked");

        Assert.True(await parking.DiscardAsync("order", "poison"));

        await harness.WaitUntilDrainedAsync();
        var records = harness.ReadTopic(3);
        Assert.Equal([0, 2, 3], records.Select(r => r.Seq));
        Assert.Equal(1, await harness.ScalarAsync(
            "SELECT count(*) FROM outbox.dead_letters WHERE aggregateid = 'poison' AND last_error LIKE 'Discarded by an operator:%SizeTooLarge%'"));
        Assert.Empty(await parking.ListAsync(includeRetrying: true));
    }

    [Fact]
    public async Task A_failing_event_retries_its_key_later_counting_attempts_across_relay_restarts_and_parks_it_after_MaxAttempts()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 1);
        await harness.WriteAsync(new RelayTestEvent("flaky", 0), new RelayTestEvent("flaky", 1), new RelayTestEvent("other", 0));
        var parking = new OutboxParking(harness.DataSource, harness.OutboxOptions);
        void Configure(PollingRelayOptions o)
        {
            o.MaxAttempts = 3;
            o.InitialRetryDelay = TimeSpan.FromMilliseconds(200);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(200);
        }

        // Each relay below is a new process as far as the database can tell: the attempts live in the table.
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var relay = harness.CreateEngine("relay-" + attempt, new FlakyPublisher(harness.CreatePublisher(), "flaky", failures: 1), Configure);
            await relay.PrepareAsync(CancellationToken.None);
            await relay.RunLeaseCycleAsync(CancellationToken.None);
            var lease = Assert.Single(relay.Scheduler.Leases());
            await Eventually.TrueAsync(
                async () =>
                {
                    await relay.DrainOnceAsync(lease, CancellationToken.None);
                    var key = await parking.GetAsync("order", "flaky");
                    return key?.Attempts == attempt;
                },
                $"attempt {attempt} is recorded");
            var held = await parking.GetAsync("order", "flaky");
            Assert.Equal(attempt < 3 ? ParkedKeyState.Retrying : ParkedKeyState.Parked, held!.State);
            Assert.Equal(2, held.WaitingEvents);
            await relay.ReleaseAllAsync(CancellationToken.None);
        }

        // The other key never waited.
        Assert.Equal(["other"], harness.ReadTopic(1).Select(r => r.Key));
        Assert.Equal(2, await harness.PendingAsync());
    }

    [Fact]
    public async Task A_retrying_key_is_published_in_order_once_its_event_goes_through()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 1);
        await harness.WriteAsync(new RelayTestEvent("flaky", 0), new RelayTestEvent("flaky", 1));
        await harness.WriteAsync(new RelayTestEvent("other", 0));
        await harness.WriteAsync(new RelayTestEvent("flaky", 2));
        var parking = new OutboxParking(harness.DataSource, harness.OutboxOptions);
        var flaky = new FlakyPublisher(harness.CreatePublisher(), "flaky", failures: 2);
        var relay = harness.CreateEngine("relay", flaky, o =>
        {
            o.MaxAttempts = 5;
            o.InitialRetryDelay = TimeSpan.FromMilliseconds(100);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(300);
        });
        await relay.PrepareAsync(CancellationToken.None);
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        var lease = Assert.Single(relay.Scheduler.Leases());

        await Eventually.TrueAsync(
            async () =>
            {
                await relay.DrainOnceAsync(lease, CancellationToken.None);
                return await harness.PendingAsync() == 0;
            },
            "every event is published after two failed attempts");

        Assert.Equal(2, flaky.Injected);
        Assert.Equal(2, relay.FailedAttempts);
        Assert.Equal(0, relay.Parked);
        var records = harness.ReadTopic(4);
        Assert.Equal([0, 1, 2], records.Where(r => r.Key == "flaky").Select(r => r.Seq));
        Assert.Single(records, r => r.Key == "other");
        Assert.Empty(await parking.ListAsync(includeRetrying: true));
        Assert.Equal(0, await harness.ScalarAsync("SELECT count(*) FROM outbox.messages_parked"));
    }
}
