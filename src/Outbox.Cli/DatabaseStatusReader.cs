using Npgsql;
using Outbox.PostgreSql;

namespace Outbox.Cli;

/// <summary>
/// Reads the status of each database of an outbox that spans many, a few at a time, the way
/// <see cref="OutboxFleetMonitor.GetStatusAsync"/> does: a database that cannot be read has its error instead, and the
/// others are still read.
/// </summary>
internal static class DatabaseStatusReader
{
    /// <summary>How many databases are read at once.</summary>
    public const int MaxConcurrentDatabases = 4;

    /// <summary>Reads every database with its own connection string (and so its own Timeout and Command Timeout).</summary>
    /// <returns>One entry per database, in the order given.</returns>
    public static async Task<IReadOnlyList<OutboxDatabaseStatus>> ReadAsync(
        IReadOnlyList<OutboxDatabase> databases, OutboxOptions options, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var results = new OutboxDatabaseStatus[databases.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, databases.Count),
            new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentDatabases, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var database = databases[i];
                try
                {
                    await using var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
                    var status = await new OutboxAdministration(dataSource, options, timeProvider).GetStatusAsync(ct);
                    results[i] = new OutboxDatabaseStatus(database.Name, status, null);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
                {
                    results[i] = new OutboxDatabaseStatus(
                        database.Name, null, $"no outbox schema here: {ex.MessageText.Replace("relation ", "table ", StringComparison.Ordinal)} (schema '{options.Schema}')");
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    results[i] = new OutboxDatabaseStatus(database.Name, null, Describe(ex));
                }
            });
        return results;
    }

    // Npgsql's outer message alone can be vague ("Exception while reading from stream" for a command timeout): add the
    // causes, on one line, for the table's error column.
    private static string Describe(Exception ex)
    {
        var messages = new List<string>();
        for (var e = ex; e is not null && messages.Count < 3; e = e.InnerException)
        {
            var message = e.Message.ReplaceLineEndings(" ").Trim();
            if (message.Length > 0 && !messages.Contains(message, StringComparer.Ordinal))
            {
                messages.Add(message);
            }
        }

        return string.Join(": ", messages);
    }
}
