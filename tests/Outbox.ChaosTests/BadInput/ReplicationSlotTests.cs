using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using Outbox.ChaosTests.Infrastructure;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Orchestration;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>
/// The CDC relay's replication slot is already taken: streamed by another process, of another plugin, or of another
/// database. Complements <c>CdcRelayFailureTests.A_standby_takes_over_within_seconds_when_the_active_relay_dies</c> (a
/// second relay as the other process) and <c>CdcRelayConfigurationTests</c> (lost slot, bad names, wal_level, privileges).
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class ReplicationSlotTests(BadInputFixture fixture, ITestOutputHelper output)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task A_slot_streamed_by_another_process_keeps_the_relay_standing_by_then_it_takes_the_slot_over_and_loses_nothing_streamed_since()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var outbox = BadInputFixture.UniqueTopic(out var topic);
        fixture.Kafka.CreateTopic(topic, 3);
        var (slot, publication) = Names();
        using var writer = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, _ => { });
        var beforeSlot = await Writes.WriteAsync(writer.Services, "k0001");

        // Another process (not an outbox relay) creates the slot and streams it without ever confirming a position.
        await ExecuteAsync(cs, $"CREATE PUBLICATION {publication} FOR TABLE outbox.messages WITH (publish = 'insert')");
        await using var other = new LogicalReplicationConnection(cs);
        await other.Open();
        var otherSlot = await other.CreatePgOutputReplicationSlot(slot, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.NoExport);
        using var stopOther = new CancellationTokenSource();
        var received = 0;
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var message in other.StartReplication(otherSlot, new PgOutputReplicationOptions(publication, PgOutputProtocolVersion.V1), stopOther.Token))
                {
                    if (message is InsertMessage)
                    {
                        Interlocked.Increment(ref received);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        await Eventually.TrueAsync(async () => await ScalarAsync(cs, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active") == 1, "the other process streams the slot");

        var capture = new LogCapture();
        using var relay = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, o => o.AddCdcRelay(c =>
        {
            c.SlotName = slot;
            c.PublicationName = publication;
            c.StandbyPollInterval = TimeSpan.FromMilliseconds(200);
        }), capture: capture);
        await relay.StartAsync();
        var monitor = relay.Services.GetRequiredService<CdcRelayMonitor>();
        var events = new List<ChaosEvent>();
        for (var i = 0; i < 5; i++)
        {
            events.Add(await Writes.WriteAsync(writer.Services, ChaosSchema.Key(i % 2)));
        }

        await Eventually.TrueAsync(() => Task.FromResult(monitor.State == CdcRelayState.Standby && Volatile.Read(ref received) >= 5), "the relay stands by while the other process streams the slot");
        output.WriteLine($"standby: {monitor.LastError}");
        var otherPid = await ScalarAsync(cs, $"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'");
        Assert.Contains(otherPid.ToString(CultureInfo.InvariantCulture), monitor.LastError, StringComparison.Ordinal);
        Assert.Equal(0, TopicReader.Count(fixture.Kafka.BootstrapServers, topic));

        // The other process goes away without confirming anything: the relay takes the slot over and publishes what it had streamed.
        await stopOther.CancelAsync();
        await reading;
        await other.DisposeAsync();
        await Eventually.TrueAsync(() => Task.FromResult(ReadTopic(topic).Select(e => e.ChaosId).Distinct().Count() == events.Count), "the relay publishes every row committed since the slot was created");
        Assert.Equal(CdcRelayState.Streaming, monitor.State);
        Assert.Equal(events.Select(e => e.ChaosId).Order(), ReadTopic(topic).Select(e => e.ChaosId).Distinct().Order());

        // A row committed before the slot existed is not in its stream: it stays in the table (not lost, not sent), and
        // the relay said so when it adopted the slot.
        Assert.Contains(capture.Lines, l => l.EventId == 5006 && l.Text.Contains(slot, StringComparison.Ordinal));
        Assert.Equal(1, await ScalarAsync(cs, $"SELECT count(*) FROM outbox.messages WHERE payload->>'chaosId' = '{beforeSlot.ChaosId}'"));
        await relay.StopAsync();
    }

    [Fact]
    public async Task A_slot_of_another_plugin_fails_the_host_start_naming_the_setting()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var (slot, _) = Names();
        await ExecuteAsync(cs, $"SELECT pg_create_logical_replication_slot('{slot}', 'test_decoding')");
        try
        {
            var outbox = BadInputFixture.UniqueTopic(out _);
            using var relay = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, o => o.AddCdcRelay(c => c.SlotName = slot));
            var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => relay.StartAsync());
            output.WriteLine(error.Message);
            Assert.Contains("CdcRelayOptions.SlotName", error.Message, StringComparison.Ordinal);
            Assert.Contains("test_decoding", error.Message, StringComparison.Ordinal);
            Assert.Equal(1, await ScalarAsync(cs, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND plugin = 'test_decoding'"));
        }
        finally
        {
            await ExecuteAsync(cs, $"SELECT pg_drop_replication_slot('{slot}')");
        }
    }

    [Fact]
    public async Task A_slot_of_the_same_name_in_another_database_fails_the_host_start_naming_the_setting()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var otherDatabase = await fixture.CreateDatabaseAsync();
        var (slot, _) = Names();
        await ExecuteAsync(otherDatabase, $"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        try
        {
            var outbox = BadInputFixture.UniqueTopic(out _);
            using var relay = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, o => o.AddCdcRelay(c => c.SlotName = slot));
            var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => relay.StartAsync());
            output.WriteLine(error.Message);
            Assert.Contains("CdcRelayOptions.SlotName", error.Message, StringComparison.Ordinal);
            Assert.Contains(new NpgsqlConnectionStringBuilder(otherDatabase).Database!, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await ExecuteAsync(otherDatabase, $"SELECT pg_drop_replication_slot('{slot}')");
        }
    }

    private static (string Slot, string Publication) Names()
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        return ("chaos_slot_" + suffix, "chaos_pub_" + suffix);
    }

    private List<ChaosEvent> ReadTopic(string topic) =>
        TopicReader.Read(fixture.Kafka.BootstrapServers, topic, TimeSpan.FromSeconds(60)).Records
            .Select(r => JsonSerializer.Deserialize<ChaosEvent>(r.Value!, Json)!)
            .ToList();

    private static async Task ExecuteAsync(string cs, string sql)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(string cs, string sql)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
