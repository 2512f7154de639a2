using Npgsql;
using Outbox.Testing;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>
/// The PostgreSQL server and Kafka brokers a macro run uses: the ones named by <c>OUTBOX_BENCH_POSTGRES</c> (a
/// connection string of a user that may create databases) and <c>OUTBOX_BENCH_KAFKA</c> (bootstrap servers) when
/// set, else those of <see cref="PostgresServer"/> and <see cref="KafkaServer"/> (a private cluster and librdkafka's
/// mock cluster on this machine).
/// </summary>
internal sealed class BenchInfrastructure : IAsyncDisposable
{
    public const string PostgresVariable = "OUTBOX_BENCH_POSTGRES";
    public const string KafkaVariable = "OUTBOX_BENCH_KAFKA";
    public const string StatementsVariable = "OUTBOX_BENCH_PG_STATEMENTS";

    private BenchInfrastructure(PostgresServer postgres, KafkaServer kafka)
    {
        Postgres = postgres;
        Kafka = kafka;
    }

    public PostgresServer Postgres { get; }

    public KafkaServer Kafka { get; }

    public string BootstrapServers => Kafka.BootstrapServers;

    /// <param name="postgresSettings">Server settings a command needs beyond the defaults (the <c>fleet</c> command raises
    /// <c>max_connections</c>); applied to a private cluster only, never to a server named by <c>OUTBOX_BENCH_POSTGRES</c>.</param>
    public static async Task<BenchInfrastructure> StartAsync(IReadOnlyDictionary<string, string>? postgresSettings = null, CancellationToken cancellationToken = default)
    {
        var postgresOptions = new PostgresServerOptions { Log = Progress.Line };
        foreach (var (name, value) in postgresSettings ?? new Dictionary<string, string>())
        {
            postgresOptions.Settings[name] = value;
        }

        if (Environment.GetEnvironmentVariable(StatementsVariable) is "1" or "true")
        {
            // Where PostgreSQL's time goes, by statement (statements inside functions and triggers too): the live scenario reports it.
            postgresOptions.Settings["shared_preload_libraries"] = "pg_stat_statements";
            postgresOptions.Settings["pg_stat_statements.track"] = "all";
            postgresOptions.Settings["pg_stat_statements.track_planning"] = "on";
        }

        if (Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } pg)
        {
            Environment.SetEnvironmentVariable(PostgresServer.EnvironmentVariable, pg);
            postgresOptions.Kind = PostgresServerKind.Environment;
        }
        else
        {
            // The benchmark must not pick up a test server by accident: only OUTBOX_BENCH_POSTGRES names one.
            // Otherwise: a container when Docker answers, else a private cluster of this machine's binaries.
            Environment.SetEnvironmentVariable(PostgresServer.EnvironmentVariable, null);
        }

        var kafkaOptions = new KafkaServerOptions { Brokers = 3, Log = Progress.Line };
        if (Environment.GetEnvironmentVariable(KafkaVariable) is { Length: > 0 } kafka)
        {
            Environment.SetEnvironmentVariable(KafkaServer.EnvironmentVariable, kafka);
            kafkaOptions.Kind = KafkaServerKind.Environment;
        }
        else
        {
            Environment.SetEnvironmentVariable(KafkaServer.EnvironmentVariable, null);
        }

        var postgres = await PostgresServer.StartAsync(postgresOptions, cancellationToken);
        try
        {
            var kafkaServer = await KafkaServer.StartAsync(kafkaOptions, cancellationToken);
            return new BenchInfrastructure(postgres, kafkaServer);
        }
        catch
        {
            await postgres.DisposeAsync();
            throw;
        }
    }

    /// <summary>A fresh database for one scenario, so that runs never see each other's rows, slots or bloat; dispose it to drop it.</summary>
    public async Task<ScenarioDatabase> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken = default) =>
        new(Postgres.ConnectionString, await Postgres.CreateDatabaseAsync(prefix, cancellationToken));

    public async Task<string> CreateTopicAsync(string name, int partitions, CancellationToken cancellationToken = default)
    {
        await Kafka.CreateTopicAsync(name, partitions, replicationFactor: 1, cancellationToken);
        return name;
    }

    public async Task<string> PostgresVersionAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT version()", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        // Kafka first: clients of the embedded cluster in this process are gone by now.
        await Kafka.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
