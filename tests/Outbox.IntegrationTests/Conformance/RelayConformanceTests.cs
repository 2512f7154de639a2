using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Cdc;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Conformance;

/// <summary>
/// The record contract of docs/architecture.md ("The contract"), for every relay that runs in-process: one set of rows goes through the polling
/// relay and through the CDC relay, and both must write exactly the records the contract describes (topic, partition
/// of the key, key bytes, value bytes, header names, values and order), hence identical records.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class RelayConformanceTests(ITestOutputHelper output, ConformanceKafkaFixture kafka) : IClassFixture<ConformanceKafkaFixture>
{
    private const int Partitions = 6;
    private const string TopicTemplate = "conformance.{aggregatetype}";

    [Fact]
    public async Task The_polling_and_cdc_relays_write_identical_records_that_match_the_contract()
    {
        var rows = ConformanceRows.Create();
        var polling = await RunPollingAsync(rows);
        var cdc = await RunCdcAsync(rows);

        await using var dataSource = NpgsqlDataSource.Create((await CdcInfrastructure.PostgresAsync()).ConnectionString);
        var expected = Expected(rows, await ConformanceRows.RenderPayloadsAsync(dataSource, rows));
        AssertMatches("polling", expected, polling);
        AssertMatches("cdc", expected, cdc);

        // Byte for byte, record by record, per key in order.
        Assert.Equal(polling.Count, cdc.Count);
        var byId = cdc.ToDictionary(r => r.Id);
        foreach (var p in polling)
        {
            var c = byId[p.Id];
            Assert.Equal(p.Topic, c.Topic);
            Assert.Equal(p.Partition, c.Partition);
            Assert.Equal(p.Key, c.Key);
            Assert.Equal(p.Value, c.Value);
            Assert.Equal(p.Headers.Select(h => h.Key), c.Headers.Select(h => h.Key));
            Assert.Equal(p.Headers.Select(h => h.Value), c.Headers.Select(h => h.Value));
        }

        Assert.Equal(KeyOrders(polling), KeyOrders(cdc));
        output.WriteLine($"{polling.Count} records identical across relays, over {polling.Select(r => r.Topic).Distinct().Count()} topics.");
    }

    private static OutboxOptions Options()
    {
        var options = new OutboxOptions { TopicTemplate = TopicTemplate };
        return options;
    }

    /// <summary>The records the contract prescribes for <paramref name="rows"/>, keyed by event id.</summary>
    private static Dictionary<Guid, CdcRecord> Expected(IReadOnlyList<ConformanceRow> rows, Dictionary<Guid, byte[]> payloads)
    {
        var options = Options();
        return rows.ToDictionary(
            r => r.Id,
            r =>
            {
                var key = Encoding.UTF8.GetBytes(r.AggregateId);
                var headers = new List<KeyValuePair<string, byte[]?>>
                {
                    new("id", Encoding.UTF8.GetBytes(r.Id.ToString("D"))),
                    new("type", Encoding.UTF8.GetBytes(r.Type)),
                };
                if (r.TraceParent is not null)
                {
                    headers.Add(new("traceparent", Encoding.UTF8.GetBytes(r.TraceParent)));
                }

                if (r.TraceState is not null)
                {
                    headers.Add(new("tracestate", Encoding.UTF8.GetBytes(r.TraceState)));
                }

                return new CdcRecord(options.GetTopic(r.AggregateType), KafkaMurmur2.Partition(key, Partitions), -1, key, payloads[r.Id], headers);
            });
    }

    private void AssertMatches(string relay, Dictionary<Guid, CdcRecord> expected, List<CdcRecord> actual)
    {
        Assert.True(actual.Count == expected.Count, $"{relay}: {actual.Count} records for {expected.Count} rows.");
        Assert.Equal(expected.Keys.Order(), actual.Select(r => r.Id).Order());
        foreach (var record in actual)
        {
            var e = expected[record.Id];
            Assert.True(e.Topic == record.Topic, $"{relay}: topic {record.Topic}, expected {e.Topic}");
            Assert.True(e.Partition == record.Partition, $"{relay}: key '{record.KeyText}' on partition {record.Partition}, expected {e.Partition} (murmur2, as Kafka Connect)");
            Assert.Equal(e.Key, record.Key);
            if (!e.Value.AsSpan().SequenceEqual(record.Value))
            {
                Assert.Fail($"{relay}: value of {record.Id} differs:\n  got      {Shorten(record.Value)}\n  expected {Shorten(e.Value)}");
            }

            Assert.Equal(e.Headers.Select(h => h.Key), record.Headers.Select(h => h.Key));
            Assert.Equal(e.Headers.Select(h => h.Value), record.Headers.Select(h => h.Value));
        }

        output.WriteLine($"{relay}: {actual.Count} records match the contract.");
    }

    private static string Shorten(byte[] value)
    {
        var text = Encoding.UTF8.GetString(value);
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    private static Dictionary<string, List<Guid>> KeyOrders(List<CdcRecord> records) =>
        records.GroupBy(r => r.Topic + "/" + r.KeyText).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Offset).Select(r => r.Id).ToList());

    private async Task<List<CdcRecord>> RunPollingAsync(IReadOnlyList<ConformanceRow> rows)
    {
        var connectionString = await CdcInfrastructure.CreateDatabaseAsync("conformance_polling");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var options = Options();
        await OutboxSchema.EnsureCreatedAsync(dataSource, options);
        await CreateTopicsAsync(kafka.Polling, options);
        await ConformanceRows.WriteAsync(dataSource, rows, options.LaneCount);

        using var host = BuildHost("polling", connectionString, kafka.Polling, outbox => outbox.AddPollingRelay(o =>
        {
            o.InstanceId = "conformance";
            o.PollInterval = TimeSpan.FromMilliseconds(100);
        }));
        await host.StartAsync();
        await Eventually.TrueAsync(async () => await CountAsync(dataSource, "SELECT count(*) FROM outbox.messages") == 0, "the polling relay publishes every row");
        await host.StopAsync();
        return ReadAll(kafka.Polling, options);
    }

    private async Task<List<CdcRecord>> RunCdcAsync(IReadOnlyList<ConformanceRow> rows)
    {
        var connectionString = await CdcInfrastructure.CreateDatabaseAsync("conformance_cdc");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await CdcHarness.DropLeftoverSlotsAsync(dataSource);
        var options = Options();
        await OutboxSchema.EnsureCreatedAsync(dataSource, options);
        await CreateTopicsAsync(kafka.Cdc, options);
        var slot = CdcHarness.SlotPrefix + Guid.NewGuid().ToString("N")[..12];

        using var host = BuildHost("cdc", connectionString, kafka.Cdc, outbox => outbox.AddCdcRelay(o =>
        {
            o.SlotName = slot;
            o.AcknowledgeInterval = TimeSpan.FromMilliseconds(100);
        }));
        await host.StartAsync();
        try
        {
            // Written once the relay streams, so the rows come through the replication stream (not the backlog).
            await Eventually.TrueAsync(
                async () => await CountAsync(dataSource, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active") == 1,
                "the CDC relay streams");
            await ConformanceRows.WriteAsync(dataSource, rows, options.LaneCount);
            await Eventually.TrueAsync(async () => await CountAsync(dataSource, "SELECT count(*) FROM outbox.messages") == 0, "the CDC relay publishes every row");
            await using var backlog = dataSource.CreateCommand("SELECT count(*) FROM outbox.messages_cdc_backlog");
            Assert.Equal(0L, (long)(await backlog.ExecuteScalarAsync())!);
        }
        finally
        {
            await host.StopAsync();
            await Eventually.TrueAsync(
                async () => await CountAsync(dataSource, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active") == 0,
                "the slot is released");
            await using var drop = dataSource.CreateCommand($"SELECT pg_drop_replication_slot('{slot}')");
            await drop.ExecuteNonQueryAsync();
        }

        return ReadAll(kafka.Cdc, options);
    }

    private IHost BuildHost(string name, string connectionString, KafkaServer server, Action<IOutboxBuilder> relay)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, name));
        var outbox = builder.Services.AddOutbox(o => o.TopicTemplate = TopicTemplate)
            .UsePostgreSql(connectionString)
            .UseKafka(k => k.BootstrapServers = server.BootstrapServers);
        relay(outbox);
        return builder.Build();
    }

    private static async Task CreateTopicsAsync(KafkaServer server, OutboxOptions options)
    {
        foreach (var type in ConformanceRows.AggregateTypes)
        {
            await server.CreateTopicAsync(options.GetTopic(type), Partitions);
        }
    }

    private static List<CdcRecord> ReadAll(KafkaServer server, OutboxOptions options) =>
        ConformanceRows.AggregateTypes.SelectMany(type => CdcHarness.ReadAll(server, options.GetTopic(type), Partitions)).ToList();

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
