using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// A value read from the database for observable gauges. A scrape never waits on the database: it gets the cached
/// reading and, when that is missing or older than the refresh interval, starts one refresh in the background, so a
/// scrape costs at most one query per interval however often it comes. A failed refresh keeps the last reading (the
/// health check reports the database problem).
/// </summary>
internal sealed class CachedReading<T>
    where T : class
{
    /// <summary>How old a reading may be before a scrape starts the next one.</summary>
    internal static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private readonly Func<CancellationToken, Task<T>> _read;
    private readonly TimeProvider _timeProvider;
    private Reading? _last;
    private int _refreshing;

    public CachedReading(Func<CancellationToken, Task<T>> read, TimeProvider timeProvider)
    {
        _read = read;
        _timeProvider = timeProvider;
    }

    /// <summary>Gets the last reading without refreshing it.</summary>
    public T? Last => Volatile.Read(ref _last)?.Value;

    /// <summary>Stores a reading taken by someone else (a health check), so that the gauges report it too.</summary>
    public void Set(T value) => Volatile.Write(ref _last, new Reading(value, _timeProvider.GetUtcNow()));

    /// <summary>Gets the last reading (null before the first), starting a refresh when it is missing or stale.</summary>
    public T? Current()
    {
        var last = Volatile.Read(ref _last);
        if ((last is null || _timeProvider.GetUtcNow() - last.SampledAt >= RefreshInterval) && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = Task.Run(RefreshAsync);
        }

        return last?.Value;
    }

    private async Task RefreshAsync()
    {
        try
        {
            Set(await _read(CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            // Keep the last reading; the health check reports the problem.
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private sealed record Reading(T Value, DateTimeOffset SampledAt);
}
