using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// Reads the backlog (<see cref="SampleAsync"/>) and publishes it as observable gauges. A scrape never waits on the
/// database: it reports the cached reading and, when that is older than the refresh interval, starts one refresh in
/// the background, so a scrape costs at most one bounded query per interval however often it comes.
/// </summary>
internal sealed class OutboxBacklogMonitor : IDisposable
{
    internal static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private readonly OutboxDataSource _dataSource;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly BacklogSql _sql;
    private readonly Meter _meter;
    private BacklogSnapshot? _last;
    private int _refreshing;

    public OutboxBacklogMonitor(OutboxDataSource dataSource, IOptions<OutboxOptions> options, TimeProvider timeProvider)
    {
        _dataSource = dataSource;
        _options = options.Value;
        _timeProvider = timeProvider;
        _sql = new BacklogSql(_options);

        // A meter of its own (same name as the write path's) so that the gauges go away with the container.
        _meter = new Meter(OutboxDiagnostics.EnqueueSourceName);
        _meter.CreateObservableGauge("outbox.messages.pending", ObservePending, "{message}",
            "Outbox rows not yet published: exact up to 10,000, the planner's live-row estimate above.");
        _meter.CreateObservableGauge("outbox.messages.oldest_pending.age", ObserveAge, "s",
            "Age of the oldest pending outbox row (the oldest lane head, events of held keys left out); 0 when none is pending.");
        _meter.CreateObservableGauge("outbox.relay.parked_keys", ObserveParked, "{key}",
            "Keys a relay parked: an event failed for good, and it and every later event of its key wait for an operator (dotnet outbox parked).");
        _meter.CreateObservableGauge("outbox.relay.parked_keys.oldest_age", ObserveParkedAge, "s",
            "How long the longest-held key has been held (parked or retrying); 0 when none is.");
    }

    public BacklogSnapshot? Last => Volatile.Read(ref _last);

    public async Task<BacklogSnapshot> SampleAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = new NpgsqlCommand(_sql.Sample, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _options.LaneCount });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _options.Schema });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _options.MessagesTable });
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    DateTimeOffset? oldest = reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0);
                    var counted = reader.GetInt64(1);
                    var estimate = reader.IsDBNull(2) ? 0 : reader.GetInt64(2);
                    var estimated = counted > BacklogSql.CountCap;
                    var snapshot = new BacklogSnapshot(
                        estimated ? Math.Max(estimate, counted) : counted,
                        estimated,
                        oldest,
                        reader.GetString(3),
                        _timeProvider.GetUtcNow(),
                        reader.GetInt64(4),
                        reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
                        reader.GetInt64(6));
                    Volatile.Write(ref _last, snapshot);
                    return snapshot;
                }
            }
        }
    }

    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<long>> ObservePending()
    {
        var last = Current();
        return last is null ? [] : [new Measurement<long>(last.Pending, Tags(last))];
    }

    private IEnumerable<Measurement<double>> ObserveAge()
    {
        var last = Current();
        return last is null ? [] : [new Measurement<double>(last.OldestAge(_timeProvider.GetUtcNow()).TotalSeconds, Tags(last))];
    }

    private IEnumerable<Measurement<long>> ObserveParked()
    {
        var last = Current();
        return last is null ? [] : [new Measurement<long>(last.ParkedKeys, Tags(last))];
    }

    private IEnumerable<Measurement<double>> ObserveParkedAge()
    {
        var last = Current();
        return last is null ? [] : [new Measurement<double>(last.OldestParkedAge(_timeProvider.GetUtcNow()).TotalSeconds, Tags(last))];
    }

    private BacklogSnapshot? Current()
    {
        var last = Last;
        if ((last is null || _timeProvider.GetUtcNow() - last.SampledAt >= RefreshInterval) && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await SampleAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
                {
                    // The gauges keep the last reading; the health check reports the database problem.
                }
                finally
                {
                    Volatile.Write(ref _refreshing, 0);
                }
            });
        }

        return last;
    }

    private KeyValuePair<string, object?>[] Tags(BacklogSnapshot snapshot) =>
    [
        new(MessagingAttributes.DbNamespace, snapshot.Database),
        new("outbox.table", _options.Schema + "." + _options.MessagesTable),
    ];
}
