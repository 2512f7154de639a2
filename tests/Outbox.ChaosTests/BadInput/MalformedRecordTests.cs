using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.ChaosTests.Infrastructure;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Orchestration;
using Outbox.Kafka;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>
/// Hostile records on a consumed topic, between good ones on the same partition: each bad one is dead-lettered at once
/// with a reason that says what is wrong (or, for a valid but empty event, fails in the handler and is dead-lettered
/// after its attempts), and every good one takes effect once, in order. Complements
/// <c>InboxFailureTests.Unknown_type_malformed_json_and_a_missing_id_are_dead_lettered_at_once</c> (an unmapped type,
/// truncated JSON, no <c>id</c> header), which it does not repeat.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class MalformedRecordTests(BadInputFixture fixture, ITestOutputHelper output)
{
    private const string Group = "bad-input";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task Hostile_records_are_dead_lettered_with_their_reason_and_the_good_ones_around_them_take_effect_once_in_order()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var outbox = BadInputFixture.UniqueTopic(out var topic);
        fixture.Kafka.CreateTopic(topic, 1);
        fixture.Kafka.CreateTopic(topic + ".dlq", 1);
        var good = Enumerable.Range(1, 7).Select(v => new ChaosEvent(Guid.NewGuid(), "k1", v, 1, v == 6 ? new string('x', 1_500_000) : "")).ToList();
        var ids = good.Select(_ => Guid.NewGuid().ToString()).ToList();
        const string hostileId = "x'); DELETE FROM outbox.inbox; --";

        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = fixture.Kafka.BootstrapServers, MessageMaxBytes = 4_000_000 }).Build())
        {
            async Task Produce(string? key, byte[]? value, string? id, string? type)
            {
                var headers = new Headers();
                if (id is not null)
                {
                    headers.Add("id", Encoding.UTF8.GetBytes(id));
                }

                if (type is not null)
                {
                    headers.Add("type", Encoding.UTF8.GetBytes(type));
                }

                await producer.ProduceAsync(topic, new Message<byte[]?, byte[]?> { Key = key is null ? null : Encoding.UTF8.GetBytes(key), Value = value, Headers = headers });
            }

            byte[] Value(ChaosEvent e) => JsonSerializer.SerializeToUtf8Bytes(e, Json);
            var type = nameof(ChaosEvent);
            await Produce("k1", Value(good[0]), ids[0], type);                                                 // 0  good v1
            await Produce("k1", [0xFF, 0xFE, 0x00, 0x41, 0xC3], Guid.NewGuid().ToString(), type);              // 1  not UTF-8
            await Produce("k1", Value(good[1]), ids[1], type);                                                 // 2  good v2
            await Produce("k1", "null"u8.ToArray(), Guid.NewGuid().ToString(), type);                          // 3  JSON null
            await Produce("k1", "[1,2,3]"u8.ToArray(), Guid.NewGuid().ToString(), type);                       // 4  JSON of another shape
            await Produce("k1", "{\"chaosId\":\"not-a-guid\",\"key\":\"k1\",\"version\":9}"u8.ToArray(), Guid.NewGuid().ToString(), type); // 5 wrong property type
            await Produce("k1", Value(good[2]), ids[2], type);                                                 // 6  good v3
            await Produce("k1", Value(good[2]), Guid.NewGuid().ToString(), null);                              // 7  no type header
            await Produce("k1", Value(good[2]), "", type);                                                     // 8  empty id header
            await Produce("k1", Value(good[2]), Guid.NewGuid().ToString(), "'; DROP TABLE outbox.inbox; --");  // 9  hostile type name
            await Produce("k1", Value(good[3]), hostileId, type);                                              // 10 good v4, hostile id
            ids[3] = hostileId;
            await Produce(null, Value(good[4]), ids[4], type);                                                 // 11 good v5, no key
            await Produce("k1", Value(good[5]), ids[5], type);                                                 // 12 good v6, 1.5 MB (over MaxPayloadBytes)
            await Produce("k1", Value(good[0]), ids[0], type);                                                 // 13 duplicate of v1 (same id)
            await Produce("k1", Value(good[6]), ids[6], type);                                                 // 14 good v7
            await Produce("k1", "{}"u8.ToArray(), Guid.NewGuid().ToString(), type);                            // 15 valid JSON, every property missing
        }

        using var host = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox,
            o => o.AddConsumer<ChaosDb>(Group, c => c.Subscribe<ChaosEvent, EffectHandler>().Configure(x => x.InitialRetryDelay = TimeSpan.FromMilliseconds(10))));
        await host.StartAsync();
        await using var db = NpgsqlDataSource.Create(cs);
        await Eventually.TrueAsync(async () => await ScalarAsync(db, "SELECT coalesce(max(next_offset), 0) FROM outbox.inbox_offsets") == 16, "every record is consumed");
        await Eventually.TrueAsync(async () => await Task.Run(() => TopicReader.Count(fixture.Kafka.BootstrapServers, topic + ".dlq")) == 8, "every bad record is dead-lettered");
        var dead = await Task.Run(() => TopicReader.Read(fixture.Kafka.BootstrapServers, topic + ".dlq", TimeSpan.FromSeconds(60)));
        await host.StopAsync();

        // The good events took effect once each, in order (the handler records any gap or repeat as a violation).
        var effects = await EffectsAsync(db);
        Assert.Equal(good.Select(e => (e.ChaosId, 1)), effects);
        Assert.Equal(0, await ScalarAsync(db, "SELECT count(*) FROM chaos.sequence_violations"));
        Assert.Equal(1, await ScalarAsync(db, $"SELECT count(*) FROM outbox.inbox WHERE message_id = '{hostileId.Replace("'", "''", StringComparison.Ordinal)}'"));

        // Each bad record went to the dead-letter topic at once (no attempt), with a reason that says what is wrong.
        Assert.Equal([1L, 3, 4, 5, 7, 8, 9, 15], dead.Records.Select(r => long.Parse(HeaderOf(r, DeadLetterHeaders.OriginalOffset)!, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(
            ["malformed-payload", "malformed-payload", "malformed-payload", "malformed-payload", "unknown-event-type", "missing-id", "unknown-event-type", "handler-failed"],
            dead.Records.Select(r => HeaderOf(r, DeadLetterHeaders.Reason)));
        Assert.All(dead.Records.Take(7), r => Assert.Equal("0", HeaderOf(r, DeadLetterHeaders.Attempts)));

        // "{}" is a valid ChaosEvent to System.Text.Json (missing properties stay default): it reaches the handler, whose
        // failure (a null aggregate id) is retried and then dead-lettered like any handler failure.
        Assert.Equal("5", HeaderOf(dead.Records[7], DeadLetterHeaders.Attempts));
        foreach (var record in dead.Records)
        {
            output.WriteLine($"offset {HeaderOf(record, DeadLetterHeaders.OriginalOffset)}: {HeaderOf(record, DeadLetterHeaders.Reason)} {HeaderOf(record, DeadLetterHeaders.ErrorType)}: {HeaderOf(record, DeadLetterHeaders.ErrorMessage)}");
        }

        Assert.Equal("NullPayload", HeaderOf(dead.Records[1], DeadLetterHeaders.ErrorType));
        Assert.Equal("MissingType", HeaderOf(dead.Records[4], DeadLetterHeaders.ErrorType));
        Assert.Contains("DROP TABLE", HeaderOf(dead.Records[6], DeadLetterHeaders.ErrorMessage), StringComparison.Ordinal);
        Assert.Equal(1, await ScalarAsync(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'outbox' AND tablename = 'inbox'"));
    }

    private static string? HeaderOf(KafkaRecord record, string name) => record.Headers.TryGetValue(name, out var value) ? value : null;

    private static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql)
    {
        await using var command = db.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<List<(Guid, int)>> EffectsAsync(NpgsqlDataSource db)
    {
        var effects = new List<(Guid, int)>();
        await using var command = db.CreateCommand("SELECT chaos_id, count FROM chaos.effects ORDER BY version");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            effects.Add((reader.GetGuid(0), reader.GetInt32(1)));
        }

        return effects;
    }
}
