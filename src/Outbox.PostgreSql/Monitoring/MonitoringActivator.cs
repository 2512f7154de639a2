using Microsoft.Extensions.Hosting;

namespace Outbox.PostgreSql;

/// <summary>Creates the gauge owners when the host starts, so that the gauges exist before the first scrape.</summary>
internal sealed class MonitoringActivator(OutboxBacklogMonitor backlog, CdcSlotLagGauge slotLag) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = backlog;
        _ = slotLag;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
