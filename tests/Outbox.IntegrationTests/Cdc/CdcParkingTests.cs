using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// Per-key parking in the CDC relay: an event that fails for good parks only its own key (it and every later event of
/// the key wait in the outbox table, in order) while every other key streams on; an operator's replay or discard, or
/// the relay's own retry, releases the key in order.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class CdcParkingTests(ITestOutputHelper output, CdcKafkaFixture fixture) : IClassFixture<CdcKafkaFixture>
{
    // Logical decoding reads the whole cluster's WAL: other test classes writing on the shared server slow it down.
    private static readonly TimeSpan LongWait = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task A_poison_event_parks_only_its_key_while_every_other_key_is_published_in_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 4, kafka: fixture.Kafka);
        using var metrics = new RelayMetricsListener(harness.Topic);
        var host = await harness.StartSmallLimitRelayHostAsync("relay");
        await harness.WaitUntilStreamingAsync(host);

        // Continuous writes of 20 other keys; the poison key gets one good event, the poison, then more events.
        var good = await harness.WriteKeyAsync("poison");
        List<WrittenRow> poison = [];
        var waiting = new List<WrittenRow>();
        for (var round = 0; round < 30; round++)
        {
            await harness.WriteAsync(20, keys: 20, perTransaction: 4);
            if (round == 10)
            {
                poison = await harness.WriteKeyAsync("poison", text: CdcHarness.PoisonText);
            }
            else if (round > 10)
            {
                waiting.AddRange(await harness.WriteKeyAsync("poison"));
            }
        }

        var held = poison.Concat(waiting).ToList();
        await harness.WaitAsync(
            async () => await harness.CountPendingAsync() == held.Count && await CountKeyRowsAsync(harness, "poison") == held.Count,
            "every event but the poison key's held ones is published",
            LongWait);

        var records = harness.ReadTopic();
        Assert.Equal([good[0].Id], records.Where(r => r.KeyText == "poison").Select(r => r.Id));
        var duplicates = harness.AssertAllInOrder(records, excluded: held);
        Assert.Empty(duplicates);

        var parked = Assert.Single(await Parking(harness).ListAsync());
        Assert.Equal(("order", "poison"), (parked.AggregateType, parked.AggregateId));
        Assert.Equal(ParkedKeyState.Parked, parked.State);
        Assert.Equal(poison[0].Id, parked.MessageId);
        Assert.Equal(1, parked.Attempts);
        Assert.Equal(held.Count, parked.WaitingEvents);
        output.WriteLine("parked: " + parked.LastError);

        // The held rows wait in the table, not in the slot: it confirms past them.
        var last = held[^1].CommittedBefore;
        await harness.WaitAsync(async () => (await harness.ReadSlotAsync()).Confirmed >= last, "the slot confirms past the held rows", LongWait);

        // The CDC relay reports with the relays' shared metrics: the parked key, the published rows, the failure's kind,
        // the batch durations.
        Assert.Equal(1, metrics.Sum("outbox.relay.parked", "cdc"));
        Assert.Equal(0, metrics.Sum("outbox.relay.parked", "polling"));
        Assert.Equal(records.Count, metrics.Sum("outbox.relay.published", "cdc"));
        Assert.Equal(1, metrics.Sum("outbox.relay.failed", "cdc", "permanent"));
        Assert.True(metrics.Sum("outbox.relay.batch.duration", "cdc") > 0);
    }

    [Fact]
    public async Task A_poison_event_in_the_backlog_parks_its_key_whose_later_backlog_rows_wait_in_the_outbox_table_in_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);

        // Written before the relay's first start: these rows predate its slot and are published from the backlog.
        await harness.WriteKeyAsync("poison");
        var poison = await harness.WriteKeyAsync("poison", text: CdcHarness.PoisonText);
        await harness.WriteAsync(10, keys: 3);
        var waiting = await harness.WriteKeyAsync("poison", 3);
        await harness.WriteAsync(10, keys: 3);

        var small = await harness.StartSmallLimitRelayHostAsync("relay-small", o => o.MaxBatchSize = 7);
        await harness.WaitUntilStreamingAsync(small);
        var parking = Parking(harness);
        await harness.WaitAsync(
            async () => await parking.GetAsync("order", "poison") is { State: ParkedKeyState.Parked, WaitingEvents: 4 } && await harness.CountPendingAsync() == 4,
            "the poison key is parked and its backlog rows wait in the outbox table",
            LongWait);
        Assert.Equal(4L, await CountKeyRowsAsync(harness, "poison"));
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic(), excluded: poison.Concat(waiting).ToList()));

        // Streamed rows of the key wait behind them; a replay publishes them all in order.
        await harness.WriteKeyAsync("poison", 2);
        await small.StopAsync();
        var large = await harness.StartRelayHostAsync("relay-large");
        await harness.WaitUntilStreamingAsync(large);
        Assert.True(await parking.ReplayAsync("order", "poison"));
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the replayed key is published", LongWait);
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic()));
    }

    [Fact]
    public async Task A_replayed_key_is_published_in_order_before_its_later_events_also_those_written_during_the_replay()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var small = await harness.StartSmallLimitRelayHostAsync("relay-small");
        await harness.WaitUntilStreamingAsync(small);
        await harness.WriteKeyAsync("poison");
        await harness.WriteKeyAsync("poison", text: CdcHarness.PoisonText);
        await harness.WriteKeyAsync("poison", 5);
        await harness.WriteAsync(20, keys: 4);
        var parking = Parking(harness);
        await harness.WaitAsync(
            async () => await parking.GetAsync("order", "poison") is { State: ParkedKeyState.Parked, WaitingEvents: 6 } && await harness.CountPendingAsync() == 6,
            "the poison key is parked with its 6 events",
            LongWait);

        // The limit raised: a relay that can publish the event; until the replay, the key stays parked there too.
        await small.StopAsync();
        var large = await harness.StartRelayHostAsync("relay-large");
        await harness.WaitUntilStreamingAsync(large);
        await harness.WriteKeyAsync("poison", 2);
        await harness.WriteAsync(8, keys: 4);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 8, "the other keys flow, the poison key waits", LongWait);
        Assert.Equal([0], harness.ReadTopic().Where(r => r.KeyText == "poison").Select(r => CdcHarness.EventOf(r).Seq));

        // Writers of the key keep writing while it is replayed.
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var rows = new List<WrittenRow>();
            while (!stop.IsCancellationRequested)
            {
                rows.AddRange(await harness.WriteKeyAsync("poison"));
            }

            return rows;
        });
        await harness.WaitAsync(async () => await CountKeyRowsAsync(harness, "poison") >= 12, "the writer writes during the replay");
        Assert.True(await parking.ReplayAsync("order", "poison"));
        await harness.WriteKeyAsync("other");
        await stop.CancelAsync();
        var during = await writer;
        await harness.WriteKeyAsync("poison", 3);
        output.WriteLine($"{during.Count} events of the key written by the concurrent writer");

        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the replayed key is published", LongWait);
        var duplicates = harness.AssertAllInOrder(harness.ReadTopic());
        Assert.Empty(duplicates);
        Assert.Empty(await parking.ListAsync(includeRetrying: true));
    }

    [Fact]
    public async Task A_discarded_event_goes_to_the_dead_letters_and_the_later_events_of_its_key_are_published_in_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var host = await harness.StartSmallLimitRelayHostAsync("relay");
        await harness.WaitUntilStreamingAsync(host);
        await harness.WriteKeyAsync("poison");
        var poison = await harness.WriteKeyAsync("poison", text: CdcHarness.PoisonText);
        await harness.WriteKeyAsync("poison", 3);
        await harness.WriteAsync(10, keys: 3);
        var parking = Parking(harness);
        await harness.WaitAsync(
            async () => await parking.GetAsync("order", "poison") is { State: ParkedKeyState.Parked, WaitingEvents: 4 } && await harness.CountPendingAsync() == 4,
            "the poison key is parked with its 4 events",
            LongWait);

        Assert.True(await parking.DiscardAsync("order", "poison"));
        await harness.WriteKeyAsync("poison", 2);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the key's later events are published", LongWait);

        var records = harness.ReadTopic();
        Assert.Equal([0, 2, 3, 4, 5, 6], records.Where(r => r.KeyText == "poison").OrderBy(r => r.Offset).Select(r => CdcHarness.EventOf(r).Seq));
        Assert.Empty(harness.AssertAllInOrder(records, excluded: poison));
        Assert.Empty(await parking.ListAsync(includeRetrying: true));

        await using var command = harness.DataSource.CreateCommand("SELECT attempts, last_error FROM outbox.dead_letters WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = poison[0].Id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "The discarded event is in the dead-letter table.");
        Assert.Equal(1, reader.GetInt32(0));
        Assert.StartsWith("Discarded by an operator", reader.GetString(1), StringComparison.Ordinal);

        // The released key's row in the parked-keys table is forgotten once the slot's confirmed position passed the release.
        await harness.WaitAsync(
            async () => await ScalarAsync(harness, "SELECT count(*) FROM outbox.messages_parked") == 0,
            "the release is forgotten once the stream passed it",
            LongWait);
    }

    [Fact]
    public async Task A_retrying_key_is_released_by_the_relay_after_its_backoff_and_published_in_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var host = await harness.StartRelayHostAsync("relay", o =>
        {
            o.MaxAttempts = 5;
            o.MaxBatchesInFlight = 1;
            o.InitialRetryDelay = o.MaxRetryDelay = TimeSpan.FromSeconds(3);
        });
        await harness.WaitUntilStreamingAsync(host);
        await harness.WriteKeyAsync("k");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the first event is published");

        // Only this key is written: the broker rejects its next produce request with an error of the record's kind.
        fixture.Kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.InvalidTimestamp);
        var failing = await harness.WriteKeyAsync("k");
        var parking = Parking(harness);
        await harness.WaitAsync(
            async () => (await parking.ListAsync(includeRetrying: true)).SingleOrDefault() is { State: ParkedKeyState.Retrying, Attempts: 1 } key && key.MessageId == failing[0].Id,
            "the key waits for its retry",
            LongWait);
        await harness.WriteKeyAsync("k", 3);

        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the relay retries the key and publishes it", LongWait);
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic()));
        Assert.Empty(await parking.ListAsync(includeRetrying: true));
    }

    [Fact]
    public async Task A_restarted_relay_goes_on_counting_the_attempts_of_a_retrying_key()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var first = await harness.StartRelayHostAsync("relay-1", o =>
        {
            o.MaxAttempts = 2;
            o.MaxBatchesInFlight = 1;
            o.InitialRetryDelay = o.MaxRetryDelay = TimeSpan.FromSeconds(4);
        });
        await harness.WaitUntilStreamingAsync(first);
        await harness.WriteKeyAsync("k");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the first event is published");

        // One failed attempt, recorded in the table; then the relay restarts (a new host, a new process's memory).
        fixture.Kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.InvalidTimestamp);
        var failing = await harness.WriteKeyAsync("k");
        var parking = Parking(harness);
        await harness.WaitAsync(
            async () => await parking.GetAsync("order", "k") is { State: ParkedKeyState.Retrying, Attempts: 1 },
            "the first attempt failed",
            LongWait);
        await harness.WriteKeyAsync("k", 2);
        await first.StopAsync();

        fixture.Kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.InvalidTimestamp);
        var second = await harness.StartRelayHostAsync("relay-2", o =>
        {
            o.MaxAttempts = 2;
            o.MaxBatchesInFlight = 1;
            o.InitialRetryDelay = o.MaxRetryDelay = TimeSpan.FromSeconds(1);
        });
        await harness.WaitUntilStreamingAsync(second);
        await harness.WaitAsync(
            async () => await parking.GetAsync("order", "k") is { State: ParkedKeyState.Parked } key && key.Attempts == 2 && key.MessageId == failing[0].Id,
            "the restarted relay's failure is counted as the second attempt, and parks the key",
            LongWait);
        Assert.Equal([0], harness.ReadTopic().Where(r => r.KeyText == "k").Select(r => CdcHarness.EventOf(r).Seq));

        Assert.True(await parking.ReplayAsync("order", "k"));
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the replayed key is published", LongWait);
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic()));
    }

    [Fact]
    public async Task A_standby_that_takes_over_goes_on_counting_the_attempts_of_a_retrying_key()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var active = await harness.StartRelayHostAsync("active", o =>
        {
            o.MaxAttempts = 2;
            o.MaxBatchesInFlight = 1;
            o.InitialRetryDelay = o.MaxRetryDelay = TimeSpan.FromSeconds(4);
        });
        await harness.WaitUntilStreamingAsync(active);
        var standby = await harness.StartRelayHostAsync("standby", o =>
        {
            o.MaxAttempts = 2;
            o.MaxBatchesInFlight = 1;
            o.InitialRetryDelay = o.MaxRetryDelay = TimeSpan.FromSeconds(1);
        });
        await harness.WaitAsync(() => CdcHarness.MonitorOf(standby).State == CdcRelayState.Standby, "the second relay stands by");
        await harness.WriteKeyAsync("k");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the first event is published");

        // One failed attempt with the active relay, recorded in the table; then the standby takes over.
        fixture.Kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.InvalidTimestamp);
        var failing = await harness.WriteKeyAsync("k");
        var parking = Parking(harness);
        await harness.WaitAsync(
            async () => await parking.GetAsync("order", "k") is { State: ParkedKeyState.Retrying, Attempts: 1 },
            "the first attempt failed",
            LongWait);
        await harness.WriteKeyAsync("k", 2);
        await active.StopAsync();
        await harness.WaitAsync(() => CdcHarness.MonitorOf(standby).State == CdcRelayState.Streaming, "the standby takes over", LongWait);

        // The standby retries the key when it is due; the second failure is the key's second attempt: MaxAttempts parks it.
        fixture.Kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.InvalidTimestamp);
        await harness.WaitAsync(
            async () => await parking.GetAsync("order", "k") is { State: ParkedKeyState.Parked } key && key.Attempts == 2 && key.MessageId == failing[0].Id,
            "the standby's failure is counted as the second attempt, and parks the key",
            LongWait);
        Assert.Equal([0], harness.ReadTopic().Where(r => r.KeyText == "k").Select(r => CdcHarness.EventOf(r).Seq));

        Assert.True(await parking.ReplayAsync("order", "k"));
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the replayed key is published", LongWait);
        harness.AssertAllInOrder(harness.ReadTopic());
    }

    [Fact]
    public async Task The_payload_bytes_decoded_and_not_settled_stay_within_MaxBytesInFlight_and_a_larger_event_still_goes_alone()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 4, kafka: fixture.Kafka);
        const long budget = 64 * 1024;
        var host = await harness.StartRelayHostAsync("relay", o =>
        {
            o.MaxBytesInFlight = budget;
            o.MaxBatchSize = 1000;
        });
        await harness.WaitUntilStreamingAsync(host);
        SetRtt(TimeSpan.FromMilliseconds(30));
        try
        {
            // 300 events of about 8 KB in transactions of 30: without the budget, whole transactions queue up at once.
            await harness.WriteAsync(300, keys: 10, perTransaction: 30, text: new string('b', 8000));
            await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "every event is published", LongWait);
        }
        finally
        {
            SetRtt(TimeSpan.Zero);
        }

        var service = host.Services.GetServices<IHostedService>().OfType<Outbox.PostgreSql.Cdc.CdcRelayService>().Single();
        var (_, peak) = service.SessionBytesInFlight!.Value;
        output.WriteLine($"peak bytes in flight: {peak}");
        Assert.InRange(peak, 8000, budget);

        // An event larger than the whole budget is published too, alone.
        await harness.WriteAsync(1, keys: 10, text: new string('L', 100_000));
        await harness.WriteAsync(10, keys: 10);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the large event is published", LongWait);
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic()));
        Assert.InRange(service.SessionBytesInFlight!.Value.Peak, 100_000, 100_000 + 100);
    }

    private static OutboxParking Parking(CdcHarness harness) => new(harness.DataSource, harness.OutboxOptions);

    private static async Task<long> ScalarAsync(CdcHarness harness, string sql)
    {
        await using var command = harness.DataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<long> CountKeyRowsAsync(CdcHarness harness, string key)
    {
        await using var command = harness.DataSource.CreateCommand("SELECT count(*) FROM outbox.messages WHERE aggregateid = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private void SetRtt(TimeSpan rtt)
    {
        for (var broker = 1; broker <= fixture.Kafka.Brokers; broker++)
        {
            fixture.Kafka.SetRtt(broker, rtt);
        }
    }
}
