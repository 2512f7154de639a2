using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Outbox.IntegrationTests.Inbox;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.Observability;

/// <summary>
/// The observable gauges, read the way an exporter reads them: each test observes the meters of its own host's
/// container (<see cref="IMeterFactory"/>), so tests running in parallel in this process do not see each other.
/// </summary>
public sealed class GaugeTests
{
    [Fact]
    public async Task Pending_and_oldest_age_report_the_backlog_from_a_cached_reading()
    {
        var cs = await SharedInfrastructure.CreateDatabaseAsync("gauges");
        var prefix = "gauges-" + Guid.NewGuid().ToString("N")[..8];
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        using var host = BuildHost(cs, prefix, time, kafka: null);
        await using var dataSource = NpgsqlDataSource.Create(cs);
        await OutboxSchema.EnsureCreatedAsync(dataSource, InboxHarness.Options(prefix));
        await host.StartAsync();
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var pending = new MetricCollector<long>(meters, OutboxDiagnostics.EnqueueSourceName, "outbox.messages.pending");
        using var age = new MetricCollector<double>(meters, OutboxDiagnostics.EnqueueSourceName, "outbox.messages.oldest_pending.age");

        // The first scrape starts the first reading in the background; a later one reports it: nothing is pending.
        await Eventually.TrueAsync(() => Observe(pending) is 0d, "the gauge reports the empty backlog");
        var empty = Assert.Single(pending.GetMeasurementSnapshot(), m => m.Value == 0);
        Assert.Equal("outbox.messages", empty.Tags["outbox.table"]);
        Assert.False(string.IsNullOrEmpty(empty.Tags["db.namespace"] as string));
        Assert.Equal<double?>(0, Observe(age));

        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            var writer = host.Services.GetRequiredService<OutboxWriter>();
            await writer.EnqueueAsync(connection, null, new MovieStarted("u1", 1));
            await writer.EnqueueAsync(connection, null, new MovieStarted("u2", 1));
        }

        // The cached reading is fresh for 5 s: a scrape within them still reports it, without a query.
        Assert.Equal<double?>(0, Observe(pending));

        // 90 s on, the reading is stale: a scrape refreshes it; the age is measured from the rows' creation time.
        time.Advance(TimeSpan.FromSeconds(90));
        await Eventually.TrueAsync(() => Observe(pending) is 2d, "the gauge reports the two pending rows");
        Assert.Equal<double?>(90, Observe(age));

        await host.StopAsync();
    }

    [Fact]
    public async Task Lanes_owned_reports_the_lanes_of_each_running_polling_relay_instance()
    {
        var cs = await SharedInfrastructure.CreateDatabaseAsync("gauges");
        var kafka = await SharedInfrastructure.KafkaAsync();
        var prefix = "gauges-" + Guid.NewGuid().ToString("N")[..8];
        await using var dataSource = NpgsqlDataSource.Create(cs);
        await OutboxSchema.EnsureCreatedAsync(dataSource, InboxHarness.Options(prefix));
        using var host = BuildHost(cs, prefix, TimeProvider.System, kafka.BootstrapServers, instanceId: "gauge-relay");
        using var lanes = new MetricCollector<int>(host.Services.GetRequiredService<IMeterFactory>(), OutboxDiagnostics.RelaySourceName, "outbox.relay.lanes.owned");
        await host.StartAsync();

        await Eventually.TrueAsync(() => Observe(lanes) is 64d, "the only relay owns all 64 lanes");
        Assert.Equal("gauge-relay", lanes.LastMeasurement!.Tags["outbox.relay.instance"]);

        // A stopped relay holds no lease and is no longer reported.
        await host.StopAsync();
        lanes.Clear();
        lanes.RecordObservableInstruments();
        Assert.Empty(lanes.GetMeasurementSnapshot());
    }

    [Fact]
    public void Without_a_CDC_relay_the_slot_lag_gauge_reports_nothing()
    {
        using var host = BuildHost("Host=127.0.0.1;Database=unused", "gauges", TimeProvider.System, kafka: null);
        using var lag = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), OutboxDiagnostics.RelaySourceName, "outbox.cdc.slot.lag");
        _ = host.Services.GetRequiredService<CdcSlotLagGauge>();

        lag.RecordObservableInstruments();

        Assert.Empty(lag.GetMeasurementSnapshot());
    }

    private static double? Observe<T>(MetricCollector<T> collector)
        where T : struct
    {
        collector.Clear();
        collector.RecordObservableInstruments();
        return collector.LastMeasurement is { } m ? Convert.ToDouble(m.Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private static IHost BuildHost(string cs, string prefix, TimeProvider time, string? kafka, string? instanceId = null) =>
        ObservedHost.Build(cs, prefix, time, kafka, instanceId);
}
