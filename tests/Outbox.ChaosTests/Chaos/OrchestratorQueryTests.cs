using System.Collections.Concurrent;
using Npgsql;
using Outbox.ChaosTests.Infrastructure;
using Outbox.ChaosTests.Orchestration;
using Outbox.Testing;

namespace Outbox.ChaosTests.Chaos;

/// <summary>The orchestrator's own queries wait out a PostgreSQL restart; real errors are not retried.</summary>
public sealed class OrchestratorQueryTests
{
    [Fact]
    public async Task A_query_while_the_server_is_down_is_tried_again_until_it_is_back()
    {
        await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Kind = PostgresServerKind.LocalCluster });
        var connectionString = await postgres.CreateDatabaseAsync("orchestrator_query");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var warm = dataSource.CreateCommand("SELECT 1"))
        {
            await warm.ExecuteScalarAsync(); // a pooled connection that the stop closes
        }

        await postgres.StopAsync();
        var attempts = new ConcurrentQueue<string>();
        var query = OrchestratorQuery.RunAsync(
            dataSource,
            async ct =>
            {
                await using var command = dataSource.CreateCommand("SELECT 42");
                return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
            },
            attempts.Enqueue,
            CancellationToken.None);

        await Eventually.TrueAsync(() => Task.FromResult(attempts.Count >= 2), "the query failed and was tried again while the server was down");
        Assert.False(query.IsCompleted);
        await postgres.RestartAsync();

        Assert.Equal(42, await query.WaitAsync(TimeSpan.FromSeconds(90)));
    }

    [Fact]
    public async Task An_error_that_is_not_a_restart_fails_at_once()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var dataSource = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("orchestrator_query"));
        var attempts = new ConcurrentQueue<string>();

        var error = await Assert.ThrowsAsync<PostgresException>(() => OrchestratorQuery.RunAsync(
            dataSource,
            async ct =>
            {
                await using var command = dataSource.CreateCommand("SELECT * FROM no_such_table");
                return await command.ExecuteScalarAsync(ct);
            },
            attempts.Enqueue,
            CancellationToken.None));

        Assert.Equal(PostgresErrorCodes.UndefinedTable, error.SqlState);
        Assert.Empty(attempts);
    }

    [Theory]
    [InlineData(PostgresErrorCodes.AdminShutdown, true)]
    [InlineData(PostgresErrorCodes.CrashShutdown, true)]
    [InlineData(PostgresErrorCodes.CannotConnectNow, true)]
    [InlineData(PostgresErrorCodes.ConnectionFailure, true)]
    [InlineData(PostgresErrorCodes.UndefinedTable, false)]
    [InlineData(PostgresErrorCodes.UniqueViolation, false)]
    [InlineData(PostgresErrorCodes.DivisionByZero, false)]
    public void Restart_errors_are_told_from_real_ones(string sqlState, bool retried) =>
        Assert.Equal(retried, OrchestratorQuery.IsServerUnavailable(new PostgresException("message", "FATAL", "FATAL", sqlState)));
}
