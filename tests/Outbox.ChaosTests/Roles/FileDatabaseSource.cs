namespace Outbox.ChaosTests.Roles;

/// <summary>
/// The databases of a fleet run, read from a file the orchestrator rewrites (one <c>name=connection string</c> per line):
/// an application's tenant catalog, as an <see cref="IOutboxDatabaseSource"/>.
/// </summary>
public sealed class FileDatabaseSource(string path) : IOutboxDatabaseSource
{
    public async ValueTask<IReadOnlyCollection<OutboxDatabase>> GetDatabasesAsync(CancellationToken cancellationToken)
    {
        var lines = await File.ReadAllLinesAsync(path, cancellationToken);
        return [.. lines.Where(l => l.Contains('=', StringComparison.Ordinal)).Select(Parse)];
    }

    public static OutboxDatabase Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var split = line.IndexOf('=', StringComparison.Ordinal);
        return new OutboxDatabase(line[..split], line[(split + 1)..]);
    }

    public static string Format(OutboxDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database.Name + "=" + database.ConnectionString;
    }

    /// <summary>Writes the file whole and then renames it over the old one, so that a reader never sees half of it.</summary>
    public static void Write(string path, IEnumerable<OutboxDatabase> databases)
    {
        var temporary = path + ".tmp";
        File.WriteAllLines(temporary, databases.Select(Format));
        File.Move(temporary, path, overwrite: true);
    }
}
