using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace Outbox.PostgreSql;

/// <summary>
/// Reads the backlog of <c>UsePostgreSql</c>'s database (<see cref="SampleAsync"/>) and publishes it as observable gauges
/// on the container's <c>Outbox</c> meter (<see cref="BacklogGauges"/>). A scrape never waits on the database: it
/// reports the cached reading (<see cref="CachedReading{T}"/>).
/// </summary>
internal sealed class OutboxBacklogMonitor
{
    private readonly BacklogSampler _sampler;

    public OutboxBacklogMonitor(OutboxDataSource dataSource, IOptions<OutboxOptions> options, IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        _sampler = new BacklogSampler(() => dataSource.DataSource, options.Value, timeProvider);
        _ = new BacklogGauges(meterFactory, () => [(_sampler, null)], options.Value, timeProvider);
    }

    public BacklogSnapshot? Last => _sampler.Last;

    public Task<BacklogSnapshot> SampleAsync(CancellationToken cancellationToken) => _sampler.SampleAsync(cancellationToken);
}
