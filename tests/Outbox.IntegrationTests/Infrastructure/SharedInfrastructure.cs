using Outbox.Testing;

namespace Outbox.IntegrationTests.Infrastructure;

/// <summary>
/// One PostgreSQL server and one Kafka cluster for the whole test assembly, started on first use. Test classes get
/// databases and topics of their own, so they run in parallel without sharing state.
/// </summary>
public static class SharedInfrastructure
{
    private static readonly Lazy<Task<PostgresServer>> PostgresInstance = new(() => PostgresServer.StartAsync());
    private static readonly Lazy<Task<KafkaServer>> KafkaInstance = new(() => KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 3 }));

    static SharedInfrastructure()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            // Kafka first: its clients in this process must not outlive the cluster's sockets for long.
            if (KafkaInstance.IsValueCreated && KafkaInstance.Value.IsCompletedSuccessfully)
            {
                KafkaInstance.Value.GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            if (PostgresInstance.IsValueCreated && PostgresInstance.Value.IsCompletedSuccessfully)
            {
                PostgresInstance.Value.GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        };
    }

    public static Task<PostgresServer> PostgresAsync() => PostgresInstance.Value;

    public static Task<KafkaServer> KafkaAsync() => KafkaInstance.Value;

    /// <summary>A fresh, uniquely named database on the shared server.</summary>
    public static async Task<string> CreateDatabaseAsync(string prefix = "it")
    {
        var server = await PostgresAsync();
        return await server.CreateDatabaseAsync(prefix);
    }
}
