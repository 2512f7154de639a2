using Npgsql;

namespace Outbox.ChaosTests.Roles;

/// <summary>Connection strings that name the process in <c>pg_stat_activity</c> (the CDC run finds the active relay by it).</summary>
public static class ConnectionStrings
{
    public static string WithApplicationName(string connectionString, string name) =>
        new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = name }.ConnectionString;
}
