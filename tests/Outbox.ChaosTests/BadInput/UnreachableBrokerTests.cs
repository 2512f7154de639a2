using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.ChaosTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>
/// Settings that pass validation but cannot work: bootstrap servers where no broker listens. The relay keeps the rows,
/// counts each failed publish (a message timeout) as an attempt, and moves a row to the dead-letter table after
/// <c>MaxAttempts</c>: kept and replayable, never dropped.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class UnreachableBrokerTests(BadInputFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Bootstrap_servers_where_no_broker_listens_keep_the_rows_until_MaxAttempts_message_timeouts_then_dead_letter_them()
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
            r.RetryBaseDelay = TimeSpan.FromMilliseconds(50);
            r.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
            r.LeaseDuration = TimeSpan.FromSeconds(3);
            r.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
        }), kafka: k => k.Producer.MessageTimeoutMs = 1500, capture: capture);
        await relay.StartAsync();

        // The host starts; while attempts remain, the rows stay in the outbox table with the error recorded.
        await Eventually.TrueAsync(async () => await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages WHERE attempts = 1") == 1, "the first attempt fails");
        output.WriteLine("after one attempt: " + await TextAsync(cs, "SELECT last_error FROM outbox.messages WHERE attempts = 1"));
        await Eventually.TrueAsync(async () => await ScalarAsync(cs, "SELECT count(*) FROM outbox.dead_letters") == 2, "both rows end in the dead-letter table");
        await relay.StopAsync();

        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages"));
        Assert.Equal(2, await ScalarAsync(cs, "SELECT count(*) FROM outbox.dead_letters WHERE attempts = 2 AND last_error LIKE '%timed out%'"));
        Assert.Equal(2, await ScalarAsync(cs, $"SELECT count(*) FROM outbox.dead_letters WHERE payload->>'chaosId' IN ('{events[0].ChaosId}', '{events[1].ChaosId}')"));
        Assert.Contains(capture.Lines, l => l.EventId == 1008);
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
