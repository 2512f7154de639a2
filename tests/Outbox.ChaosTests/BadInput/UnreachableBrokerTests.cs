using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.ChaosTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>
/// Settings that pass validation but cannot work: bootstrap servers where no broker listens. A message timeout is the
/// broker's failure, not the record's: the relay keeps the rows and retries, logging each failure, and never counts it
/// against them, so nothing is parked or dropped however long the outage lasts.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class UnreachableBrokerTests(BadInputFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Bootstrap_servers_where_no_broker_listens_keep_the_rows_retrying_without_counting_attempts_or_parking_them()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var outbox = BadInputFixture.UniqueTopic(out _);
        using var writer = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, _ => { });
        var events = new[] { await Writes.WriteAsync(writer.Services, "k0001"), await Writes.WriteAsync(writer.Services, "k0001") };
        var capture = new LogCapture();
        var nowhere = "127.0.0.1:" + FreePort().ToString(CultureInfo.InvariantCulture);
        using var relay = Hosts.Build(output, cs, nowhere, outbox, o => o.AddPollingRelay(r =>
        {
            r.MaxAttempts = 2;
            r.InitialRetryDelay = TimeSpan.FromMilliseconds(50);
            r.MaxRetryDelay = TimeSpan.FromMilliseconds(50);
            r.LeaseDuration = TimeSpan.FromSeconds(3);
            r.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
        }), kafka: k => k.Producer.MessageTimeoutMs = 1500, capture: capture);
        await relay.StartAsync();

        // More timeouts than MaxAttempts: each is logged as the broker's failure, none counts against the rows.
        await Eventually.TrueAsync(() => Task.FromResult(capture.Count(l => l.EventId == 1022) >= 4), "the relay retries after message timeouts, again and again");
        await relay.StopAsync();

        Assert.Contains(capture.Lines, l => l.EventId == 1022 && l.Text.Contains("timed out", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(2, await ScalarAsync(cs, $"SELECT count(*) FROM outbox.messages WHERE payload->>'chaosId' IN ('{events[0].ChaosId}', '{events[1].ChaosId}')"));
        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages_parked"));
        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM outbox.dead_letters"));
        Assert.DoesNotContain(capture.Lines, l => l.EventId is 1020 or 1021);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<long> ScalarAsync(string cs, string sql)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<string> TextAsync(string cs, string sql)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) ?? "";
    }
}
