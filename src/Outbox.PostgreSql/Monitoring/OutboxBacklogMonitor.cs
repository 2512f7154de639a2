using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// Reads the backlog (<see cref="SampleAsync"/>) and publishes it as observable gauges on the container's <c>Outbox</c>
/// meter. A scrape never waits on the database: it reports the cached reading (<see cref="CachedReading{T}"/>).
/// </summary>
internal sealed class OutboxBacklogMonitor
{
    private readonly OutboxDataSource _dataSource;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly BacklogSql _sql;
    private readonly CachedReading<BacklogSnapshot> _reading;

    public OutboxBacklogMonitor(OutboxDataSource dataSource, IOptions<OutboxOptions> options, IMeterFactory meterFactory, TimeProvider timeProvider)
    {
        _dataSource = dataSource;
        _options = options.Value;
        _timeProvider = timeProvider;
        _sql = new BacklogSql(_options);
        _reading = new CachedReading<BacklogSnapshot>(SampleAsync, timeProvider);

        var meter = meterFactory.Create(OutboxDiagnostics.EnqueueSourceName);
        meter.CreateObservableGauge("outbox.messages.pending", ObservePending, "{message}",
            "Outbox rows not yet published: exact up to 10,000, the planner's live-row estimate above.");
        meter.CreateObservableGauge("outbox.messages.oldest_pending.age", ObserveAge, "s",
            "Age of the oldest pending outbox row (the oldest lane head, events of held keys left out); 0 when none is pending.");
        meter.CreateObservableGauge("outbox.relay.parked_keys", ObserveParked, "{key}",
            "Keys a relay parked: an event failed for good, and it and every later event of its key wait for an operator (dotnet outbox parked).");
        meter.CreateObservableGauge("outbox.relay.parked_keys.oldest_age", ObserveParkedAge, "s",
            "How long the longest-held key has been held (parked or retrying); 0 when none is.");
    }

    public BacklogSnapshot? Last => _reading.Last;

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
                    _reading.Set(snapshot);
                    return snapshot;
                }
            }
        }
    }

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

    private BacklogSnapshot? Current() => _reading.Current();

    private KeyValuePair<string, object?>[] Tags(BacklogSnapshot snapshot) =>
    [
        new(MessagingAttributes.DbNamespace, snapshot.Database),
        new("outbox.table", _options.Schema + "." + _options.MessagesTable),
    ];
}
