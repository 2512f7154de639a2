using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Outbox.IntegrationTests.Inbox;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Relay;

namespace Outbox.IntegrationTests.Observability;

public sealed class HealthCheckTests
{
    [Fact]
    public async Task Oldest_pending_age_moves_the_check_from_healthy_to_degraded_to_unhealthy()
    {
        var cs = await SharedInfrastructure.CreateDatabaseAsync("health");
        var prefix = "health-" + Guid.NewGuid().ToString("N")[..8];
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        using var host = BuildHost(cs, prefix, time, kafka: null);
        await OutboxSchema.EnsureCreatedAsync(NpgsqlDataSource.Create(cs), InboxHarness.Options(prefix));
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var empty = (await health.CheckHealthAsync()).Entries["outbox"];
        Assert.Equal(HealthStatus.Healthy, empty.Status);
        Assert.Equal(0L, empty.Data["outbox.pending"]);

        await using (var connection = await NpgsqlDataSource.Create(cs).OpenConnectionAsync())
        {
            await host.Services.GetRequiredService<OutboxWriter>().EnqueueAsync(connection, null, new MovieStarted("u1", 1));
        }

        var fresh = (await health.CheckHealthAsync()).Entries["outbox"];
        Assert.Equal(HealthStatus.Healthy, fresh.Status);
        Assert.Equal(1L, fresh.Data["outbox.pending"]);

        time.Advance(TimeSpan.FromSeconds(90));
        var degraded = (await health.CheckHealthAsync()).Entries["outbox"];
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("Degraded above 60 s", degraded.Description, StringComparison.Ordinal);

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Entries["outbox"].Status);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_parked_key_degrades_the_check_naming_it_and_its_events_do_not_age_the_backlog()
    {
        var cs = await SharedInfrastructure.CreateDatabaseAsync("health");
        var prefix = "health-" + Guid.NewGuid().ToString("N")[..8];
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        using var host = BuildHost(cs, prefix, time, kafka: null);
        await using var dataSource = NpgsqlDataSource.Create(cs);
        await OutboxSchema.EnsureCreatedAsync(dataSource, InboxHarness.Options(prefix));
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Guid id;
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            id = await host.Services.GetRequiredService<OutboxWriter>().EnqueueAsync(connection, null, new MovieStarted("u1", 1));
        }

        await using (var park = dataSource.CreateCommand(
            "INSERT INTO outbox.messages_parked (aggregatetype, aggregateid, lane, message_id, attempts, last_error, parked_at, updated_at) VALUES ('movie', 'u1', 0, $1, 1, 'MsgSizeTooLarge', now(), now())"))
        {
            park.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            await park.ExecuteNonQueryAsync();
        }

        // Ten minutes on: the parked key's event would make the backlog Unhealthy; it is reported as parked instead.
        time.Advance(TimeSpan.FromMinutes(10));
        var entry = (await health.CheckHealthAsync()).Entries["outbox"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("1 key(s) parked", entry.Description, StringComparison.Ordinal);
        Assert.Equal(1L, entry.Data["outbox.parked_keys"]);
        Assert.Equal(1L, entry.Data["outbox.pending"]);

        Assert.True(await host.Services.GetRequiredService<OutboxParking>().DiscardAsync("movie", "u1"));
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Entries["outbox"].Status);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_running_polling_relay_owns_every_lane_and_drains_the_backlog()
    {
        var cs = await SharedInfrastructure.CreateDatabaseAsync("health");
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "health-" + Guid.NewGuid().ToString("N")[..8];
        await OutboxSchema.EnsureCreatedAsync(NpgsqlDataSource.Create(cs), InboxHarness.Options(prefix));
        using var host = BuildHost(cs, prefix, TimeProvider.System, kafka.BootstrapServers);
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();

        await Eventually.TrueAsync(
            async () => (await health.CheckHealthAsync()).Entries["outbox"] is { Status: HealthStatus.Healthy } e && (int)e.Data["relay.lanes_owned"] == 64,
            "the relay owns its lanes and reports healthy");

        await using (var connection = await NpgsqlDataSource.Create(cs).OpenConnectionAsync())
        {
            await host.Services.GetRequiredService<OutboxWriter>().EnqueueAsync(connection, null, new MovieStarted("u1", 1));
        }

        await Eventually.TrueAsync(
            async () => (await health.CheckHealthAsync()).Entries["outbox"].Data["outbox.pending"] is 0L,
            "the relay drains the row");

        await host.StopAsync();
        var stopped = (await health.CheckHealthAsync()).Entries["outbox"];
        Assert.Equal(HealthStatus.Unhealthy, stopped.Status);
        Assert.Contains("no valid lease heartbeat", stopped.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_polling_relay_monitor_reports_its_lanes_its_published_count_and_its_health()
    {
        var cs = await SharedInfrastructure.CreateDatabaseAsync("health");
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "health-" + Guid.NewGuid().ToString("N")[..8];
        await OutboxSchema.EnsureCreatedAsync(NpgsqlDataSource.Create(cs), InboxHarness.Options(prefix));
        using var host = BuildHost(cs, prefix, TimeProvider.System, kafka.BootstrapServers);
        var monitor = host.Services.GetRequiredService<PollingRelayMonitor>();
        Assert.Same(monitor, host.Services.GetRequiredService<PollingRelayMonitor>());
        Assert.Empty(monitor.OwnedLanes);
        Assert.Equal(0L, monitor.PublishedCount);
        await host.StartAsync();

        await Eventually.TrueAsync(() => Task.FromResult(monitor.OwnedLanes.Count == 64), "the only instance owns every lane");
        Assert.Equal(Enumerable.Range(0, 64), monitor.OwnedLanes);
        Assert.True(monitor.HeartbeatValid);
        var healthy = monitor.CheckHealth();
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(monitor.InstanceId, healthy.Data["relay.instance"]);

        await using (var connection = await NpgsqlDataSource.Create(cs).OpenConnectionAsync())
        {
            var writer = host.Services.GetRequiredService<OutboxWriter>();
            await writer.EnqueueAsync(connection, null, new MovieStarted("u1", 1));
            await writer.EnqueueAsync(connection, null, new MovieStarted("u2", 2));
        }

        await Eventually.TrueAsync(() => Task.FromResult(monitor.PublishedCount == 2), "the monitor counts both published events");
        Assert.Equal(0L, monitor.ParkedCount);

        await host.StopAsync();
        Assert.Empty(monitor.OwnedLanes);
        Assert.False(monitor.HeartbeatValid);
        Assert.Equal(HealthStatus.Unhealthy, monitor.CheckHealth().Status);
    }

    [Fact]
    public async Task Thresholds_in_the_wrong_order_fail_at_host_start_naming_the_setting()
    {
        using var host = BuildHost("Host=127.0.0.1;Database=unused", "health", TimeProvider.System, kafka: null, o =>
        {
            o.PendingAgeDegraded = TimeSpan.FromMinutes(10);
            o.PendingAgeUnhealthy = TimeSpan.FromMinutes(5);
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("OutboxHealthOptions.PendingAgeUnhealthy", error.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(string cs, string prefix, TimeProvider time, string? kafka, Action<OutboxHealthOptions>? configure = null) =>
        ObservedHost.Build(cs, prefix, time, kafka, health: configure, withHealthChecks: true);
}
