using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Outbox.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxBatchingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Batches_take_effect_once_and_a_poison_record_in_a_batch_parks_only_its_key()
    {
        const int keys = 8;
        const int perKey = 60;
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 4);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var events = Enumerable.Range(1, perKey).SelectMany(seq => Enumerable.Range(0, keys).Select(k => new MovieStarted("user-" + k, seq))).ToList();
        var ids = harness.ProduceMany(events);

        // A relay duplicate (it arrives after its key's poison, so it is held), and one event per key whose handler always fails.
        var duplicate = ids[5];
        await harness.ProduceRawAsync(events[5].UserId, InboxHarness.Serialize(events[5]), duplicate, nameof(MovieStarted));
        var behavior = new HandlerBehavior();
        // The poison is each key's last event, so that records before it form batches whatever the fetch sizes are
        // (a failed batch is handled one record at a time, and a parked key's later records are held, not batched).
        behavior.FailuresBySequence[perKey] = int.MaxValue;
        var poisonIds = events.Select((e, i) => (e, i)).Where(x => x.e.Sequence == perKey).Select(x => ids[x.i]).ToHashSet();

        await harness.StartConsumerAsync(group, behavior, c => c
            .Subscribe<MovieStarted, RecordingHandler>()
            .Subscribe<MovieStarted, AuditHandler>(), o =>
            {
                o.MaxBatchSize = 100;
                o.MaxAttempts = 2;
            });

        // Each key parks at its poison (its last event); the late duplicate of user-5 is held behind user-5's.
        var dead = await harness.ReadDeadLettersAsync(keys);
        await Eventually.TrueAsync(async () => (await harness.EffectsAsync()).Count == keys * (perKey - 1), "every event before the poisons took effect");
        await Eventually.TrueAsync(async () => (await harness.ParkedAsync(group)).Count == keys + 1, "the poisons are parked and the late duplicate is held");

        var effects = await harness.EffectsAsync();
        Assert.Equal(effects.Count, (await harness.EffectsAsync(nameof(AuditHandler))).Count);
        foreach (var perUser in effects.GroupBy(e => e.UserId))
        {
            Assert.Equal(Enumerable.Range(1, perKey - 1), perUser.Select(e => e.Sequence));
        }

        var parked = await harness.ParkedAsync(group);
        Assert.Equal(poisonIds.Order(StringComparer.Ordinal), parked.Where(r => r.State == "parked").Select(r => r.MessageId!).Order(StringComparer.Ordinal));
        foreach (var perUser in parked.GroupBy(r => r.Key))
        {
            // In offset order: the poison first, then the key's later records.
            Assert.Equal("parked", perUser.OrderBy(r => (r.Partition, r.Offset)).First().State);
            Assert.All(perUser.OrderBy(r => (r.Partition, r.Offset)).Skip(1), r => Assert.Equal("held", r.State));
        }

        Assert.Equal(poisonIds.Order(StringComparer.Ordinal), dead.Select(d => InboxHarness.Header(d, "id")).Order(StringComparer.Ordinal));

        // Batching happened: some transaction handled several records (they share one handled_at).
        Assert.True(await harness.ScalarAsync("SELECT max(c) FROM (SELECT count(*) AS c FROM outbox.inbox GROUP BY handled_at) x") > 1);
    }

    /// <summary>
    /// Measures the inbox with a no-op handler, batched and unbatched, against a raw Confluent.Kafka consume of the
    /// same topic in the same run. Prints the figures; asserts only that every record was handled (machine speed is
    /// not a test result). Size with OUTBOX_INBOX_THROUGHPUT_MESSAGES (default 10,000; the figures in docs/inbox.md used 30,000 in Release).
    /// </summary>
    [Fact]
    public async Task Throughput_with_a_no_op_handler_against_a_raw_consume()
    {
        var messages = int.TryParse(Environment.GetEnvironmentVariable("OUTBOX_INBOX_THROUGHPUT_MESSAGES"), CultureInfo.InvariantCulture, out var n) ? n : 10_000;
        const int partitions = 6;
        await using var harness = await InboxHarness.CreateAsync(output, partitions);
        var events = Enumerable.Range(0, messages).Select(i => new MovieStarted("user-" + (i % 1000), i / 1000)).ToList();
        harness.ProduceMany(events);

        var raw = RawConsume(harness, messages);
        var rawInsert = await RawInboxInsertAsync(harness, messages, partitions, batchSize: 500);

        var batched = await MeasureAsync(harness, "batched", messages, batchSize: 500);
        var unbatchedCount = Math.Min(messages, messages >= 30_000 ? 3_000 : 1_500);
        var unbatched = await MeasureAsync(harness, "unbatched", unbatchedCount, batchSize: 1);

        var line = $"inbox throughput: raw consume {raw:0} msg/s; raw inbox-row insert (500-row transactions, {partitions} connections) {rawInsert:0} rows/s; " +
                   $"inbox no-op batched(500) {batched:0} msg/s ({batched / raw:P1} of raw consume, {batched / rawInsert:P0} of raw insert); " +
                   $"unbatched {unbatched:0} msg/s over {unbatchedCount} ({unbatched / raw:P1} of raw); batching gain x{batched / unbatched:0.0}; {messages} messages, {partitions} partitions";
        output.WriteLine(line);
        Console.WriteLine(line);
    }

    /// <summary>The database's own limit for the inbox's write: the same insert and offset upsert, without Kafka or EF.</summary>
    private static async Task<double> RawInboxInsertAsync(InboxHarness harness, int rows, int connections, int batchSize)
    {
        var perConnection = rows / connections / batchSize;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async c =>
        {
            await using var connection = await harness.DataSource.OpenConnectionAsync();
            for (var b = 0; b < perConnection; b++)
            {
                await using var tx = await connection.BeginTransactionAsync();
                await using var batch = new Npgsql.NpgsqlBatch(connection, tx)
                {
                    BatchCommands =
                    {
                        new Npgsql.NpgsqlBatchCommand(
                            "INSERT INTO outbox.inbox (consumer_group, message_id, topic, partition, \"offset\", handled_at) " +
                            "SELECT 'raw', m.id, 't', $1, m.off, now() FROM unnest($2::text[], $3::bigint[]) AS m(id, off) ON CONFLICT DO NOTHING RETURNING message_id")
                        {
                            Parameters =
                            {
                                new Npgsql.NpgsqlParameter<int> { TypedValue = c },
                                new Npgsql.NpgsqlParameter<string[]> { TypedValue = Enumerable.Range(0, batchSize).Select(_ => Guid.CreateVersion7().ToString()).ToArray() },
                                new Npgsql.NpgsqlParameter<long[]> { TypedValue = Enumerable.Range(b * batchSize, batchSize).Select(i => (long)i).ToArray() },
                            },
                        },
                        new Npgsql.NpgsqlBatchCommand(
                            "INSERT INTO outbox.inbox_offsets VALUES ('raw', 't', $1, $2, now()) ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset")
                        {
                            Parameters = { new Npgsql.NpgsqlParameter<int> { TypedValue = c }, new Npgsql.NpgsqlParameter<long> { TypedValue = (b + 1L) * batchSize } },
                        },
                    },
                };
                await using (var reader = await batch.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                    }
                }

                await tx.CommitAsync();
            }
        }));
        var seconds = watch.Elapsed.TotalSeconds;
        await harness.ExecuteAsync("DELETE FROM outbox.inbox WHERE consumer_group = 'raw'");
        return perConnection * connections * batchSize / seconds;
    }

    private static double RawConsume(InboxHarness harness, int messages)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = harness.Kafka.BootstrapServers,
            GroupId = "raw-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(harness.MovieTopic);
        var count = 0;
        Stopwatch? watch = null;
        var limit = DateTime.UtcNow.AddMinutes(2);
        while (count < messages && DateTime.UtcNow < limit)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null || result.IsPartitionEOF)
            {
                continue;
            }

            watch ??= Stopwatch.StartNew();
            count++;
        }

        Assert.Equal(messages, count);
        consumer.Close();
        return (count - 1) / watch!.Elapsed.TotalSeconds;
    }

    private async Task<double> MeasureAsync(InboxHarness harness, string name, int messages, int batchSize)
    {
        var group = name + "-" + Guid.NewGuid().ToString("N");
        var host = await harness.StartConsumerAsync(group, new HandlerBehavior { ConsumerName = name }, c => c.Subscribe<MovieStarted, NoOpHandler>(), o => o.MaxBatchSize = batchSize);
        await Eventually.TrueAsync(
            async () => await harness.ScalarAsync("SELECT count(*) FROM outbox.inbox WHERE consumer_group = $1", group) >= messages,
            $"{messages} records were handled by {name}",
            TimeSpan.FromMinutes(3));
        await harness.StopAsync(host);
        var transactions = await harness.ScalarAsync("SELECT count(DISTINCT handled_at) FROM outbox.inbox WHERE consumer_group = $1", group);
        output.WriteLine($"{name}: {messages} records in {transactions} transactions");
        Console.WriteLine($"{name}: {messages} records in {transactions} transactions");

        // From the first transaction to the last (group join excluded), by the handled_at of the inbox rows.
        var seconds = await harness.ScalarAsync(
            "SELECT (extract(epoch FROM max(handled_at) - min(handled_at)) * 1000000)::bigint FROM (SELECT handled_at FROM outbox.inbox WHERE consumer_group = $1 ORDER BY handled_at LIMIT $2) x",
            group, messages) / 1_000_000.0;
        return (messages - 1) / seconds;
    }
}
