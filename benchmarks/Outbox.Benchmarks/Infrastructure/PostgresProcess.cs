using System.Globalization;
using Npgsql;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>Finds the postmaster of a local server, so its CPU time can be read from <c>/proc</c>.</summary>
internal static class PostgresProcess
{
    public static async Task<int?> PostmasterPidAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT pg_backend_pid()");
        var backend = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        var path = $"/proc/{backend}/stat";
        if (!File.Exists(path))
        {
            return null; // not on this machine
        }

        var text = await File.ReadAllTextAsync(path, cancellationToken);
        var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(rest[1], CultureInfo.InvariantCulture);
    }
}
