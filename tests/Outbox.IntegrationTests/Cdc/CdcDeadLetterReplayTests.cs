using Npgsql;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// Dead letters of the CDC relay: an event whose key is parked and that an operator discards
/// (<c>dotnet outbox parked discard</c>) goes to the dead-letter table, and can be replayed from there with the admin
/// API the CLI uses (<c>dotnet outbox dead-letters replay</c>). A replayed dead letter is a new insert (same id, later
/// transaction): it must be published, after what was committed before the replay and before what is committed after
/// it, whether the relay streams, drained it from its backlog, or was stopped meanwhile.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class CdcDeadLetterReplayTests(ITestOutputHelper output, CdcKafkaFixture fixture) : IClassFixture<CdcKafkaFixture>
{
    // Logical decoding reads the whole cluster's WAL: other test classes writing on the shared server slow it down.
    private static readonly TimeSpan LongWait = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task A_dead_letter_replayed_while_the_relay_streams_is_published_in_replay_order_also_when_dead_lettered_twice()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var host = await StartRelayAsync(harness, "relay");
        await harness.WaitUntilStreamingAsync(host);
        await harness.WriteAsync(4, keys: 2);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the rows before the failure are published");

        // The broker rejects the next record (a failure of the record's kind): with MaxAttempts = 1 its key parks.
        RejectNextRecord();
        var parked = (await harness.WriteAsync(1, keys: 2))[0];
        await DiscardWhenParkedAsync(harness, parked, "the rejected row's key is parked");
        await WaitUntilDeadLetteredAsync(harness, parked.Id, "the discarded row is dead-lettered");
        var first = await DeadLetteredAtAsync(harness, parked.Id);

        // Replayed too early (the broker rejects it again): parked again and dead-lettered a second time.
        RejectNextRecord();
        Assert.Equal(1, await ReplayAsync(harness, parked.Id));
        await DiscardWhenParkedAsync(harness, parked, "the replayed row's key is parked again");
        await WaitUntilDeadLetteredAsync(harness, parked.Id, "the replayed row is dead-lettered again");
        Assert.True(await DeadLetteredAtAsync(harness, parked.Id) > first);

        await harness.WriteAsync(2, keys: 2);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the rows after the failures are published", LongWait);
        Assert.DoesNotContain(harness.ReadTopic(), r => r.Id == parked.Id);

        // Replayed once the broker takes it, by the relay that dead-lettered it twice (same process, same id).
        Assert.Equal(1, await ReplayAsync(harness, parked.Id));
        await harness.WriteAsync(2, keys: 2);
        await harness.WaitAsync(() => harness.ReadTopic().Any(r => r.Id == parked.Id), "the replayed dead letter is published", LongWait);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "every row is published", LongWait);
        Assert.Equal(0L, await CountDeadLettersAsync(harness));

        // k0: 0 and 1 before the failure, 2 dead-lettered, 3 written before the replay, 4 after it.
        var records = harness.ReadTopic();
        Assert.Equal([0, 1, 3, 2, 4], FirstSequences(records, "k0"));
        Assert.Equal([0, 1, 2, 3], FirstSequences(records, "k1"));
        Assert.Single(records, r => r.Id == parked.Id);
    }

    [Fact]
    public async Task A_backlog_row_dead_lettered_then_replayed_is_published_by_the_relay_that_dead_lettered_it()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);

        // Written before the relay's first start: the row predates the slot and is published from the backlog, where
        // the broker rejects it: its key parks, and the row moves into the outbox table to wait.
        var parked = (await harness.WriteAsync(1, keys: 1))[0];
        RejectNextRecord();
        var host = await StartRelayAsync(harness, "relay");
        await harness.WaitUntilStreamingAsync(host);
        await DiscardWhenParkedAsync(harness, parked, "the backlog row's key is parked");
        await WaitUntilDeadLetteredAsync(harness, parked.Id, "the backlog row is dead-lettered");

        await harness.WriteAsync(1, keys: 1);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the row after the failure is published", LongWait);

        Assert.Equal(1, await ReplayAsync(harness, parked.Id));
        await harness.WriteAsync(1, keys: 1);
        await harness.WaitAsync(() => harness.ReadTopic().Any(r => r.Id == parked.Id), "the replayed backlog row is published", LongWait);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "every row is published", LongWait);
        Assert.Equal([1, 0, 2], FirstSequences(harness.ReadTopic(), "k0"));
    }

    [Fact]
    public async Task A_dead_letter_replayed_while_no_relay_runs_is_published_by_the_next_one_before_later_rows()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2, kafka: fixture.Kafka);
        var first = await StartRelayAsync(harness, "relay-1");
        await harness.WaitUntilStreamingAsync(first);
        await harness.WriteAsync(1, keys: 1);
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the row before the failure is published");

        RejectNextRecord();
        var parked = (await harness.WriteAsync(1, keys: 1))[0];
        await DiscardWhenParkedAsync(harness, parked, "the rejected row's key is parked");
        await WaitUntilDeadLetteredAsync(harness, parked.Id, "the discarded row is dead-lettered");
        await first.StopAsync();

        Assert.Equal(1, await ReplayAsync(harness, parked.Id));
        await harness.WriteAsync(1, keys: 1);
        await StartRelayAsync(harness, "relay-2");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0 && harness.ReadTopic().Any(r => r.Id == parked.Id), "the next relay publishes the replay", LongWait);
        Assert.Equal([0, 1, 2], FirstSequences(harness.ReadTopic(), "k0"));
    }

    // One failed attempt parks a key; one batch in flight, so the rejected record is alone in its produce request.
    private static Task<Microsoft.Extensions.Hosting.IHost> StartRelayAsync(CdcHarness harness, string name) =>
        harness.StartRelayHostAsync(name, o =>
        {
            o.MaxAttempts = 1;
            o.MaxBatchesInFlight = 1;
        });

    /// <summary>The broker rejects the next produce request with an error of the record's kind (counted, not transient).</summary>
    private void RejectNextRecord() => fixture.Kafka.PushRequestErrors(Outbox.Testing.KafkaApiKey.Produce, Confluent.Kafka.ErrorCode.InvalidTimestamp);

    /// <summary>Waits until the row's key is parked with the row as its failed event, then discards it (to the dead letters).</summary>
    private static async Task DiscardWhenParkedAsync(CdcHarness harness, WrittenRow row, string because)
    {
        var parking = new OutboxParking(harness.DataSource, harness.OutboxOptions);
        await harness.WaitAsync(
            async () => await parking.GetAsync(CdcHarness.AggregateType, row.Key) is { State: ParkedKeyState.Parked } key && key.MessageId == row.Id,
            because,
            LongWait);
        Assert.True(await parking.DiscardAsync(CdcHarness.AggregateType, row.Key));
    }

    private static Task<int> ReplayAsync(CdcHarness harness, Guid id) =>
        new OutboxAdministration(harness.DataSource, harness.OutboxOptions, TimeProvider.System).ReplayDeadLettersAsync([id]);

    /// <summary>Waits until the row is a dead letter and gone from the outbox table (a replay before that would collide with it).</summary>
    private static Task WaitUntilDeadLetteredAsync(CdcHarness harness, Guid id, string because) =>
        harness.WaitAsync(
            async () => await DeadLetteredAtAsync(harness, id) is not null && await harness.CountPendingAsync() == 0,
            because,
            LongWait);

    private static async Task<DateTimeOffset?> DeadLetteredAtAsync(CdcHarness harness, Guid id)
    {
        await using var command = harness.DataSource.CreateCommand("SELECT dead_lettered_at FROM outbox.dead_letters WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        return await command.ExecuteScalarAsync() is DateTime at ? new DateTimeOffset(at, TimeSpan.Zero) : null;
    }

    private static async Task<long> CountDeadLettersAsync(CdcHarness harness)
    {
        await using var command = harness.DataSource.CreateCommand("SELECT count(*) FROM outbox.dead_letters");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The key's sequence numbers in partition order, each at its first arrival.</summary>
    private static List<int> FirstSequences(IEnumerable<CdcRecord> records, string key) =>
        records.Where(r => r.KeyText == key).OrderBy(r => r.Offset).Select(r => CdcHarness.EventOf(r).Seq).Distinct().ToList();
}
