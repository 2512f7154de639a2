using System.Globalization;

namespace Outbox.Cli;

/// <summary>
/// The databases of an outbox that spans many, as given by <c>--database NAME=CONNECTION_STRING</c> (repeatable) and
/// <c>--databases-file PATH</c> (one <c>NAME=CONNECTION_STRING</c> per line; blank lines and <c>#</c> comments ignored).
/// </summary>
internal static class DatabaseList
{
    /// <summary>Reads the databases, in name order.</summary>
    /// <exception cref="OutboxConfigurationException">An entry is malformed, names a database twice, or the file cannot be
    /// read: the message names the option (and the line) and never repeats a connection string.</exception>
    public static IReadOnlyList<OutboxDatabase> Read(IReadOnlyList<string> values, FileInfo? file)
    {
        var databases = new List<OutboxDatabase>();
        foreach (var value in values)
        {
            databases.Add(Parse(value, "--database"));
        }

        if (file is not null)
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file.FullName);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new OutboxConfigurationException($"--databases-file: the file '{file.FullName}' does not exist.");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new OutboxConfigurationException($"--databases-file: the file '{file.FullName}' cannot be read: {ex.Message}");
            }

            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.Length > 0 && !line.StartsWith('#'))
                {
                    databases.Add(Parse(line, string.Create(CultureInfo.InvariantCulture, $"--databases-file '{file.FullName}', line {i + 1}")));
                }
            }
        }

        if (databases.GroupBy(d => d.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new OutboxConfigurationException($"The database '{twice.Key}' is given twice (--database, --databases-file): each name may appear once.");
        }

        return [.. databases.OrderBy(d => d.Name, StringComparer.Ordinal)];
    }

    private static OutboxDatabase Parse(string entry, string source)
    {
        var separator = entry.IndexOf('=', StringComparison.Ordinal);
        if (separator < 0)
        {
            // Without '=' the entry holds no connection string (so no password): naming it helps.
            throw new OutboxConfigurationException($"{source}: '{entry}' is not NAME=CONNECTION_STRING (for example tenant-1=\"Host=...;Database=...\").");
        }

        try
        {
            return new OutboxDatabase(entry[..separator].Trim(), entry[(separator + 1)..].Trim());
        }
        catch (OutboxConfigurationException ex)
        {
            // OutboxDatabase's message names the problem and never repeats a password.
            throw new OutboxConfigurationException($"{source}: {ex.Message}");
        }
    }
}
