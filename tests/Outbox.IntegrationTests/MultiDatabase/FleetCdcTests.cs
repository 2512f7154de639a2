using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.MultiDatabase;

/// <summary>
/// The CDC relay over many databases: a slot per database (slots are per server, so each carries its database's name),
/// one instance streams each slot and the others stand by, and a standby takes a slot over when its instance stops.
/// A server of its own: slots are cluster-wide.
/// </summary>
public sealed class FleetCdcTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_instances_stream_each_databases_slot_once_and_a_standby_takes_over_when_an_instance_stops()
    {
        await using var server = await PostgresServer.StartAsync();
        await using var harness = await FleetHarness.CreateAsync(output);
        var databases = new[]
        {
            await FleetHarness.CreateDatabaseAsync(server, "Tenant.One"),
            await FleetHarness.CreateDatabaseAsync(server, "tenant_two"),
            await FleetHarness.CreateDatabaseAsync(server, "tenant-three"),
        };
        void Configure(OutboxDatabasesOptions o)
        {
            foreach (var database in databases)
            {
                o.Databases.Add(database);
            }
        }

        var one = await harness.StartHostAsync("cdc-1", Configure, cdc: true);
        var two = await harness.StartHostAsync("cdc-2", Configure, cdc: true);
        await Eventually.TrueAsync(
            () => databases.All(d =>
            {
                var states = new[] { one, two }.Select(h => FleetHarness.MonitorOf(h).Databases.Single(s => s.Name == d.Name).CdcState).ToList();
                return states.Count(s => s == CdcRelayState.Streaming) == 1 && states.Count(s => s == CdcRelayState.Standby) == 1;
            }),
            "each database's slot is streamed by one instance while the other stands by");

        // Three slots, one per database, each named after its database.
        await using (var slots = harness.DataSource(databases[0]).CreateCommand("SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots"))
        {
            var names = (string)(await slots.ExecuteScalarAsync())!;
            output.WriteLine("slots: " + names);
            Assert.Equal(3, names.Split(',').Length);
            Assert.Contains("outbox_cdc_tenant_two", names.Split(','));
        }

        var written = new ConcurrentDictionary<string, int>();
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 100, 5, written)));
        await harness.WaitUntilDrainedAsync(databases);

        await one.StopAsync();
        await Eventually.TrueAsync(
            () => FleetHarness.MonitorOf(two).Databases.All(d => d.CdcState == CdcRelayState.Streaming),
            "the other instance streams every slot");
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 100, 5, written)));
        await harness.WaitUntilDrainedAsync(databases);
        var records = harness.ReadTopic(written.Values.Sum());
        harness.AssertAllInOrder(records, written);
        Assert.Equal(0, await harness.PendingAsync(databases[0]));

        // Every record names the database it was written in (the keys start with the database's name).
        Assert.All(records, r => Assert.StartsWith(r.Headers["outbox-database"] + "-k", r.Key, StringComparison.Ordinal));
    }

    /// <summary>
    /// The slots spread over the fleet: an instance that started alone streams every slot; a second one joins and the
    /// first gives slots back until each streams its share (2 of 4), with events written all along arriving once each
    /// in order; when the first stops, the second streams all four.
    /// </summary>
    [Fact]
    public async Task The_slots_spread_over_the_instances_and_the_survivor_takes_them_all()
    {
        await using var server = await PostgresServer.StartAsync();
        await using var harness = await FleetHarness.CreateAsync(output);
        var databases = new[]
        {
            await FleetHarness.CreateDatabaseAsync(server, "spread_a"),
            await FleetHarness.CreateDatabaseAsync(server, "spread_b"),
            await FleetHarness.CreateDatabaseAsync(server, "spread_c"),
            await FleetHarness.CreateDatabaseAsync(server, "spread_d"),
        };
        void Configure(OutboxDatabasesOptions o)
        {
            foreach (var database in databases)
            {
                o.Databases.Add(database);
            }
        }

        int Streaming(IHost host) => FleetHarness.MonitorOf(host).Databases.Count(d => d.CdcState == CdcRelayState.Streaming);

        var one = await harness.StartHostAsync("cdc-1", Configure, cdc: true);
        await Eventually.TrueAsync(() => Streaming(one) == 4, "the only instance streams every slot");

        var written = new ConcurrentDictionary<string, int>();
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 50, 5, written)));
        var two = await harness.StartHostAsync("cdc-2", Configure, cdc: true);
        var writing = Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 100, 5, written)));
        await Eventually.TrueAsync(
            () => Streaming(one) == 2 && Streaming(two) == 2
                  && databases.All(d => new[] { one, two }.Count(h => FleetHarness.MonitorOf(h).Databases.Single(s => s.Name == d.Name).CdcState == CdcRelayState.Streaming) == 1),
            "each instance streams two of the four slots, each slot once");
        await writing;
        await harness.WaitUntilDrainedAsync(databases);

        await one.StopAsync();
        await Eventually.TrueAsync(() => Streaming(two) == 4, "the survivor streams every slot");
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 50, 5, written)));
        await harness.WaitUntilDrainedAsync(databases);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
    }
}
