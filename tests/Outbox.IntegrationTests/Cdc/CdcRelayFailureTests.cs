using System.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using NpgsqlTypes;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>The CDC relay when things break: a killed relay, a standby's takeover, a broker outage, a poison row (its key parks).</summary>
[Collection(CdcCollection.Name)]
public sealed class CdcRelayFailureTests(ITestOutputHelper output, CdcKafkaFixture fixture) : IClassFixture<CdcKafkaFixture>
{
    // Logical decoding reads the whole cluster's WAL: other test classes writing on the shared server slow it down.
    private static readonly TimeSpan LongWait = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task A_relay_killed_mid_stream_loses_nothing_and_its_successor_repeats_only_unconfirmed_rows()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 4, kafka: fixture.Kafka);

        // Slow acknowledgements keep rows in flight; a long retry delay keeps the killed relay from coming back.
        SetRtt(TimeSpan.FromMilliseconds(50));
        try
        {
            var first = await harness.StartRelayHostAsync("relay-1", o => o.InitialRetryDelay = o.MaxRetryDelay = TimeSpan.FromMinutes(5));
            await harness.WaitUntilStreamingAsync(first);
            var monitor = CdcHarness.MonitorOf(first);
            var writer = Task.Run(() => harness.WriteAsync(3000, keys: 30, perTransaction: 5));
            await harness.WaitAsync(() => monitor.PublishedCount >= 500, "a part of the rows is published");

            // Kill: the server drops the relay's replication connection, as when its process dies.
            await TerminateSlotBackendAsync(harness);
            await harness.WaitAsync(async () => !(await harness.ReadSlotAsync()).Active, "the killed relay's connection is gone");
            var confirmedAtKill = (await harness.ReadSlotAsync()).Confirmed!.Value;
            await first.StopAsync();
            Assert.Equal(confirmedAtKill, (await harness.ReadSlotAsync()).Confirmed);
            output.WriteLine($"killed after {monitor.PublishedCount} acknowledgements; slot confirmed up to {confirmedAtKill}");

            var second = await harness.StartRelayHostAsync("relay-2");
            var written = await writer;

            // Rows leave the table only once Kafka acknowledged them.
            await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the successor publishes everything", LongWait);

            var records = harness.ReadTopic();
            var duplicates = harness.AssertAllInOrder(records);
            Assert.Equal(written.Select(r => r.Id).Order(), records.Select(r => r.Id).Distinct().Order());

            // A row whose commit the slot had confirmed before the kill is never published twice.
            var byId = written.ToDictionary(r => r.Id);
            var repeatedConfirmed = duplicates.Where(d => byId[d.Id].CommittedBefore <= confirmedAtKill).ToList();
            Assert.True(repeatedConfirmed.Count == 0, $"{repeatedConfirmed.Count} rows confirmed before the kill were published again.");
            output.WriteLine($"{duplicates.Count} rows repeated, all after the confirmed position.");
        }
        finally
        {
            SetRtt(TimeSpan.Zero);
        }
    }

    [Fact]
    public async Task A_standby_takes_over_within_seconds_when_the_active_relay_dies()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 4, kafka: fixture.Kafka);
        var active = await harness.StartRelayHostAsync("active", o => o.InitialRetryDelay = o.MaxRetryDelay = TimeSpan.FromMinutes(5));
        await harness.WaitUntilStreamingAsync(active);
        var standby = await harness.StartRelayHostAsync("standby");
        var standbyMonitor = CdcHarness.MonitorOf(standby);
        await harness.WaitAsync(() => standbyMonitor.State == CdcRelayState.Standby, "the second relay stands by");
        Assert.Equal(HealthStatus.Healthy, (await standbyMonitor.CheckHealthAsync()).Status);

        await harness.WriteAsync(200, keys: 10);
        await harness.WaitAsync(() => CdcHarness.MonitorOf(active).PublishedCount >= 200, "the active relay publishes");
        Assert.Equal(0, standbyMonitor.PublishedCount);

        var writer = Task.Run(() => harness.WriteAsync(1000, keys: 10, perTransaction: 2));
        var killedPid = await ActivePidAsync(harness);
        var killed = Stopwatch.StartNew();
        await TerminateSlotBackendAsync(harness);

        // Taken over: the standby streams the slot (another server process holds it) and publishes what is written now.
        var published = standbyMonitor.PublishedCount;
        await harness.WaitAsync(
            async () => standbyMonitor.State == CdcRelayState.Streaming && await ActivePidAsync(harness) is { } pid && pid != killedPid && standbyMonitor.PublishedCount > published,
            "the standby takes over",
            TimeSpan.FromSeconds(30));
        output.WriteLine($"the standby streamed and published {killed.Elapsed.TotalMilliseconds:0} ms after the active relay's connection was killed");
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(10), $"Takeover took {killed.Elapsed}.");
        await active.StopAsync();

        await writer;
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the new active relay publishes everything", LongWait);
        harness.AssertAllInOrder(harness.ReadTopic());
        Assert.True(standbyMonitor.PublishedCount > 0);
    }

    [Fact]
    public async Task While_the_brokers_are_down_nothing_is_lost_and_the_slot_is_not_confirmed_past_unacknowledged_rows()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 4, kafka: fixture.Kafka);
        var host = await harness.StartRelayHostAsync("relay", o => o.ReplicationTimeout = TimeSpan.FromSeconds(2));
        await harness.WaitUntilStreamingAsync(host);
        var monitor = CdcHarness.MonitorOf(host);
        await harness.WriteAsync(100, keys: 10);
        await harness.WaitAsync(() => monitor.PublishedCount >= 100, "the rows before the outage are published");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the rows before the outage are deleted");

        fixture.Kafka.SetAllBrokersDown();
        List<WrittenRow> during;
        try
        {
            during = await harness.WriteAsync(200, keys: 10, perTransaction: 4);
            var firstCommit = during.Min(r => r.CommittedBefore);

            // For 10 seconds, while other tables keep the WAL moving (so keepalives advance the stream position),
            // the slot must stay before the first unacknowledged row and the rows must stay in the table.
            var outage = Stopwatch.StartNew();
            var samples = 0;
            while (outage.Elapsed < TimeSpan.FromSeconds(10))
            {
                await using (var noise = harness.DataSource.CreateCommand(
                    "CREATE TABLE IF NOT EXISTS noise (id int); INSERT INTO noise SELECT generate_series(1, 100)"))
                {
                    await noise.ExecuteNonQueryAsync();
                }

                var slot = await harness.ReadSlotAsync();
                Assert.True(slot.Confirmed < firstCommit, $"The slot was confirmed up to {slot.Confirmed}, past the unacknowledged commit before {firstCommit}.");
                Assert.Equal(200L, await harness.CountRowsAsync());
                samples++;
                await Task.Delay(250);
            }

            output.WriteLine($"{samples} samples during the outage; relay state {monitor.State}, acknowledged {monitor.PublishedCount}");
        }
        finally
        {
            fixture.Kafka.SetAllBrokersUp();
        }

        await harness.WaitAsync(
            async () => await harness.CountPendingAsync() == 0,
            "the rows written during the outage are published once the brokers are back",
            LongWait);
        harness.AssertAllInOrder(harness.ReadTopic());
    }

    [Fact]
    public async Task A_broker_outage_longer_than_the_delivery_timeout_is_retried_without_counting_attempts_against_the_rows()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        using var metrics = new RelayMetricsListener(harness.Topic);

        // One counted failure would park a key at once; each delivery times out after 2 s while the brokers are down.
        var host = await harness.StartRelayHostAsync("relay", o => o.MaxAttempts = 1, k => k.Producer.MessageTimeoutMs = 2000);
        await harness.WaitUntilStreamingAsync(host);
        await harness.WriteAsync(4, keys: 2);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the rows before the outage are published");

        fixture.Kafka.SetAllBrokersDown();
        try
        {
            await harness.WriteAsync(4, keys: 2);
            await harness.WaitAsync(() => metrics.Sum("outbox.relay.failed", "cdc", "transient") >= 2, "deliveries time out, twice", LongWait);
        }
        finally
        {
            fixture.Kafka.SetAllBrokersUp();
        }

        await harness.WriteAsync(4, keys: 2);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "every row is published once the brokers are back", LongWait);
        Assert.Empty(await new OutboxParking(harness.DataSource, harness.OutboxOptions).ListAsync(includeRetrying: true));
        Assert.Equal(0L, await CountDeadLettersAsync(harness));
        Assert.Equal(0, metrics.Sum("outbox.relay.failed", "cdc", "record") + metrics.Sum("outbox.relay.failed", "cdc", "permanent"));

        // First copies in order too: a record that ran out of message.timeout.ms fails with every later record of its
        // producer, so none of them goes through first when the brokers come back (docs/reliability.md).
        harness.AssertAllInOrder(harness.ReadTopic());
    }

    [Fact]
    public async Task A_row_the_producer_refuses_parks_its_key_and_the_rows_of_other_keys_after_it_go_on()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var host = await harness.StartSmallLimitRelayHostAsync("relay", o => o.MaxAttempts = 3);
        await harness.WaitUntilStreamingAsync(host);
        await harness.WriteAsync(10, keys: 2);
        var poison = await harness.WriteAsync(1, keys: 2, text: CdcHarness.PoisonText);
        var after = await harness.WriteAsync(10, keys: 2);
        var held = poison.Concat(after.Where(r => r.Key == poison[0].Key)).ToList();

        await harness.WaitAsync(async () => await harness.CountPendingAsync() == held.Count, "every row but the poison key's from the poison on left the table");
        var records = harness.ReadTopic();
        Assert.DoesNotContain(records, r => r.Id == poison[0].Id);
        foreach (var r in records.OrderBy(r => r.Partition).ThenBy(r => r.Offset))
        {
            output.WriteLine($"p{r.Partition} @{r.Offset} {r.KeyText} seq {CdcHarness.EventOf(r).Seq}");
        }

        var duplicates = harness.AssertAllInOrder(records, excluded: held);
        Assert.Empty(duplicates);

        // Too large is permanent: parked at once (not after MaxAttempts), the event and the key's later ones waiting.
        var parked = Assert.Single(await new OutboxParking(harness.DataSource, harness.OutboxOptions).ListAsync());
        Assert.Equal(poison[0].Id, parked.MessageId);
        Assert.Equal(1, parked.Attempts);
        Assert.Equal(held.Count, parked.WaitingEvents);
        Assert.Equal(0L, await CountDeadLettersAsync(harness));
        output.WriteLine("parked: " + parked.LastError);
    }

    [Fact]
    public async Task A_row_the_producer_refuses_is_not_overtaken_by_later_batches_while_several_are_in_flight()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);

        // Small batches, many in flight (the brokers answer slowly): a later row of the refused row's key handed over
        // before its batch is settled would be published ahead of it; rows of other keys not attempted behind it must
        // be sent again, once.
        var small = await harness.StartSmallLimitRelayHostAsync(
            "relay",
            o =>
            {
                o.MaxAttempts = 2;
                o.MaxBatchSize = 20;
                o.MaxBatchesInFlight = 8;
            });
        await harness.WaitUntilStreamingAsync(small);
        SetRtt(TimeSpan.FromMilliseconds(20));
        List<WrittenRow> poison;
        List<WrittenRow> held;
        try
        {
            await harness.WriteAsync(400, keys: 4, perTransaction: 50);
            poison = await harness.WriteAsync(1, keys: 4, text: CdcHarness.PoisonText);
            var after = await harness.WriteAsync(400, keys: 4, perTransaction: 50);
            held = poison.Concat(after.Where(r => r.Key == poison[0].Key)).ToList();
            await harness.WaitAsync(async () => await harness.CountPendingAsync() == held.Count, "every row but the poison key's from the poison on left the table", LongWait);
        }
        finally
        {
            SetRtt(TimeSpan.Zero);
        }

        var records = harness.ReadTopic();
        Assert.DoesNotContain(records, r => r.Id == poison[0].Id);
        Assert.Empty(harness.AssertAllInOrder(records, excluded: held));

        // Replayed by a relay that can publish it: the key's rows follow, in order, and nothing repeats.
        await small.StopAsync();
        var large = await harness.StartRelayHostAsync("relay-large");
        await harness.WaitUntilStreamingAsync(large);
        Assert.True(await new OutboxParking(harness.DataSource, harness.OutboxOptions).ReplayAsync("order", poison[0].Key));
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the replayed key is published", LongWait);
        Assert.Empty(harness.AssertAllInOrder(harness.ReadTopic()));
    }

    private static async Task<long> CountDeadLettersAsync(CdcHarness harness)
    {
        await using var command = harness.DataSource.CreateCommand("SELECT count(*) FROM outbox.dead_letters");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task TerminateSlotBackendAsync(CdcHarness harness)
    {
        await using var command = harness.DataSource.CreateCommand(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = harness.SlotName });
        Assert.Equal(true, await command.ExecuteScalarAsync());
    }

    private static async Task<int?> ActivePidAsync(CdcHarness harness)
    {
        await using var command = harness.DataSource.CreateCommand("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = harness.SlotName });
        return await command.ExecuteScalarAsync() as int?;
    }

    private void SetRtt(TimeSpan rtt)
    {
        for (var broker = 1; broker <= fixture.Kafka.Brokers; broker++)
        {
            fixture.Kafka.SetRtt(broker, rtt);
        }
    }
}
