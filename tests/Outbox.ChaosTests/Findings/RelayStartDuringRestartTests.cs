using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.ChaosTests.BadInput;
using Outbox.ChaosTests.Infrastructure;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Orchestration;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.Findings;

/// <summary>
/// A polling relay whose host starts while PostgreSQL restarts must start, and publish once the server is back, as it
/// does when the server refuses connections: found by a chaos run (seed 105), where a relay started again after a kill
/// failed its host start with 57P01 from the commit-order check and its process exited.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class RelayStartDuringRestartTests(BadInputFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task A_relay_host_started_while_the_server_shuts_down_starts_and_publishes_once_it_is_back()
    {
        await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Kind = PostgresServerKind.LocalCluster });
        var cs = await postgres.CreateDatabaseAsync("relay_start");
        var options = new OutboxOptions();
        ChaosEvent.Map(options);
        await using (var dataSource = NpgsqlDataSource.Create(cs))
        {
            await OutboxSchema.EnsureCreatedAsync(dataSource, options);
            await ChaosSchema.CreateAsync(dataSource, writers: 1, keys: 10, auditDeletes: false);
        }

        var outbox = BadInputFixture.UniqueTopic(out var topic);
        fixture.Kafka.CreateTopic(topic, 1);
        using (var writer = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, _ => { }))
        {
            for (var i = 0; i < 3; i++)
            {
                await Writes.WriteAsync(writer.Services, "k0001");
            }
        }

        // A smart shutdown (SIGTERM to the postmaster) waits for the open session and meanwhile refuses every new
        // connection with 57P03 "the database system is shutting down", as a restart does while it stops.
        var holder = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { Pooling = false }.ConnectionString);
        await holder.OpenAsync();
        await SignalPostmasterAsync(holder, "TERM");
        await Eventually.TrueAsync(async () => await ConnectErrorAsync(cs) == PostgresErrorCodes.CannotConnectNow, "the server refuses new connections while it shuts down");

        using var relay = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, o => o.AddPollingRelay(r =>
        {
            r.PollInterval = TimeSpan.FromMilliseconds(250);
            r.HeartbeatInterval = TimeSpan.FromSeconds(1);
            r.InitialRetryDelay = TimeSpan.FromMilliseconds(200);
        }));
        try
        {
            await relay.StartAsync();
        }
        finally
        {
            await holder.DisposeAsync(); // the shutdown completes
        }

        await postgres.RestartAsync();
        await Eventually.TrueAsync(async () => await PendingAsync(cs) == 0, "the relay publishes every row once the server is back");
        Assert.Equal(3, TopicReader.Count(fixture.Kafka.BootstrapServers, topic));
        await relay.StopAsync();
    }

    private static async Task SignalPostmasterAsync(NpgsqlConnection connection, string signal)
    {
        await using var command = new NpgsqlCommand("SHOW data_directory", connection);
        var dataDirectory = (string)(await command.ExecuteScalarAsync())!;
        var pid = (await File.ReadAllLinesAsync(Path.Combine(dataDirectory, "postmaster.pid")))[0].Trim();
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    private static async Task<string?> ConnectErrorAsync(string cs)
    {
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(cs) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            return null;
        }
        catch (PostgresException ex)
        {
            return ex.SqlState;
        }
    }

    private static async Task<long> PendingAsync(string cs)
    {
        try
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM outbox.messages", connection);
            return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }
        catch (NpgsqlException)
        {
            NpgsqlConnection.ClearAllPools();
            return -1;
        }
    }
}
