using Outbox.Testing;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// The PostgreSQL server of the CDC and conformance tests, started on first use. Logical decoding reads the whole
/// cluster's WAL and a restarted slot re-reads it from the oldest transaction that was running anywhere in the
/// cluster, so on the shared server the heavy, long-running tests of other classes would make these tests' timing
/// (a takeover within seconds, an idle slot moving forward) depend on them. A server of their own keeps it honest.
/// </summary>
public static class CdcInfrastructure
{
    private static readonly Lazy<Task<PostgresServer>> Instance = new(() => PostgresServer.StartAsync());

    static CdcInfrastructure()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (Instance.IsValueCreated && Instance.Value.IsCompletedSuccessfully)
            {
                Instance.Value.GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        };
    }

    public static Task<PostgresServer> PostgresAsync() => Instance.Value;

    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        var server = await PostgresAsync();
        return await server.CreateDatabaseAsync(prefix);
    }

    /// <summary>A database with slot and publication names of its own (slots are cluster-wide: see <see cref="TestDatabase"/>).</summary>
    public static async Task<TestDatabase> CreateTestDatabaseAsync(string prefix)
    {
        var server = await PostgresAsync();
        return await server.CreateTestDatabaseAsync(prefix);
    }
}
