using System.Text.RegularExpressions;
using Outbox.PostgreSql;

namespace Outbox;

/// <summary>
/// One database of an outbox that spans many (<c>UsePostgreSqlDatabases</c>): a name that identifies it in logs, metrics
/// (<c>outbox.database</c>), health data and the CLI, and the connection string of the database that holds its outbox tables.
/// Two entries are the same database when both name and connection string are equal; a name whose connection string
/// changes is stopped and started again with the new one.
/// </summary>
public sealed partial record OutboxDatabase
{
    /// <summary>The longest name allowed.</summary>
    public const int MaxNameLength = 100;

    /// <summary>Creates a database entry.</summary>
    /// <param name="name">The name: 1 to 100 letters, digits, <c>_</c>, <c>-</c> or <c>.</c> (a tenant id, for example).</param>
    /// <param name="connectionString">The Npgsql connection string of the database.</param>
    /// <exception cref="OutboxConfigurationException">The name or the connection string is invalid; the message names the
    /// problem and never repeats a password.</exception>
    public OutboxDatabase(string name, string connectionString)
    {
        if (NameProblem(name) is { } problem)
        {
            throw new OutboxConfigurationException(problem);
        }

        Name = name;
        ConnectionString = ConnectionStringCheck.Validate(connectionString, $"The connection string of outbox database '{name}'");
    }

    /// <summary>Gets the database's name.</summary>
    public string Name { get; }

    /// <summary>Gets the database's connection string.</summary>
    public string ConnectionString { get; }

    /// <summary>Returns the name only: the connection string may hold a password.</summary>
    /// <returns>The name.</returns>
    public override string ToString() => Name;

    /// <summary>Returns why <paramref name="name"/> is not a valid database name, or <see langword="null"/> when it is.</summary>
    internal static string? NameProblem(string? name) =>
        string.IsNullOrEmpty(name) ? "An outbox database needs a name (letters, digits, '_', '-' or '.')."
        : name.Length > MaxNameLength ? $"The outbox database name '{name[..20]}...' is {name.Length} characters long; at most {MaxNameLength} are allowed."
        : !NamePattern().IsMatch(name) ? $"The outbox database name '{name}' is invalid: use letters, digits, '_', '-' or '.' only."
        : null;

    [GeneratedRegex("^[A-Za-z0-9_.-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
