using Npgsql;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>
/// A database of one scenario. Dropped afterwards, with its replication slots first: a CDC relay's permanent slot
/// would otherwise pin WAL for the rest of the run (and block <c>DROP DATABASE</c>).
/// </summary>
internal sealed class ScenarioDatabase(string adminConnectionString, string connectionString) : IAsyncDisposable
{
    public string ConnectionString => connectionString;

    public async ValueTask DisposeAsync()
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        using (var pooled = new NpgsqlConnection(connectionString))
        {
            NpgsqlConnection.ClearPool(pooled);
        }

        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(adminConnectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using (var slots = new NpgsqlCommand(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active", connection))
            {
                slots.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
                await slots.ExecuteNonQueryAsync();
            }

            // The name comes from PostgresServer.CreateDatabaseAsync: [a-z0-9_] only.
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException e)
        {
            Progress.Line($"could not drop database {name}: {e.Message}");
        }
    }
}
