using System.Diagnostics;
using System.Net.Sockets;
using Npgsql;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// The orchestrator's own queries (snapshots, the slot's owner, the checks) survive a PostgreSQL restart: a query that
/// fails because the server is restarting, or because a pooled connection died with the last restart, is tried again
/// on a fresh connection for a bounded time. Only the code under test may fail a run, not its observer.
/// </summary>
public static class OrchestratorQuery
{
    /// <summary>Longer than a fast restart on a busy machine (the runs measured up to a few seconds).</summary>
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(90);

    public static async Task<T> RunAsync<T>(
        NpgsqlDataSource dataSource,
        Func<CancellationToken, Task<T>> query,
        Action<string>? log,
        CancellationToken cancellationToken,
        TimeSpan? bound = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(query);
        var limit = bound ?? DefaultBound;
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await query(cancellationToken);
            }
            catch (Exception ex) when (IsServerUnavailable(ex) && clock.Elapsed < limit)
            {
                log?.Invoke($"orchestrator query failed ({Describe(ex)}), attempt {attempt}: trying again on a fresh connection");

                // Connections pooled before a restart are dead; the data source would hand them out one by one.
                dataSource.Clear();
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * attempt)), cancellationToken);
            }
        }
    }

    /// <summary>
    /// The server is restarting or was restarted under an open connection: administrator shutdown or crash (57P01,
    /// 57P02), cannot connect now (57P03: starting up or shutting down), a connection exception (08xxx), or a socket
    /// that was closed or refused.
    /// </summary>
    public static bool IsServerUnavailable(Exception exception) => exception switch
    {
        PostgresException pg => pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
                                || pg.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException npgsql => npgsql.InnerException is IOException or SocketException or EndOfStreamException || npgsql.IsTransient,
        _ => false,
    };

    private static string Describe(Exception ex) => ex is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : $"{ex.GetType().Name}: {ex.Message}";
}
