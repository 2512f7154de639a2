using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// Reads one database's backlog (<see cref="SampleAsync"/>: pending rows, oldest pending row, parked keys) and caches it
/// for the gauges (<see cref="CachedReading{T}"/>: a scrape never waits on the database).
/// </summary>
internal sealed class BacklogSampler
{
    private readonly Func<NpgsqlDataSource> _dataSource;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly BacklogSql _sql;
    private readonly CachedReading<BacklogSnapshot> _reading;

    public BacklogSampler(Func<NpgsqlDataSource> dataSource, OutboxOptions options, TimeProvider timeProvider)
    {
        _dataSource = dataSource;
        _options = options;
        _timeProvider = timeProvider;
        _sql = new BacklogSql(options);
        _reading = new CachedReading<BacklogSnapshot>(SampleAsync, timeProvider);
    }

    /// <summary>Gets the last reading without refreshing it.</summary>
    public BacklogSnapshot? Last => _reading.Last;

    /// <summary>Gets the last reading, starting a refresh in the background when it is missing or stale.</summary>
    public BacklogSnapshot? Current() => _reading.Current();

    public async Task<BacklogSnapshot> SampleAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource().OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
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
}
