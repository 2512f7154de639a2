using Outbox.Testing;

namespace MovieWatch;

/// <summary>
/// The database and broker the sample uses: the configured ones (<c>ConnectionStrings:MovieWatch</c>,
/// <c>Kafka:BootstrapServers</c>), or else a throwaway PostgreSQL and an embedded Kafka from Outbox.Testing.
/// </summary>
public sealed class SampleInfrastructure : IAsyncDisposable
{
    public const string Topic = "outbox.event.movie";

    private PostgresServer? _postgres;
    private KafkaServer? _kafka;

    public string ConnectionString { get; private set; } = "";

    public string BootstrapServers { get; private set; } = "";

    /// <summary>Gets whether Kafka is librdkafka's mock cluster in this process (no container, nothing configured).</summary>
    public bool EmbeddedKafka => _kafka?.Kind == Outbox.Testing.KafkaServerKind.Embedded;

    public string Description { get; private set; } = "";

    public static async Task<SampleInfrastructure> StartAsync(IConfiguration configuration, TextWriter log)
    {
        var infrastructure = new SampleInfrastructure();
        try
        {
            var cs = configuration.GetConnectionString("MovieWatch");
            if (string.IsNullOrWhiteSpace(cs))
            {
                var progress = new StartupProgress(log);
                progress.Step("No ConnectionStrings:MovieWatch: starting a throwaway PostgreSQL (initdb and start: a few seconds, longer on a busy machine)...");
                infrastructure._postgres = await PostgresServer.StartAsync(new PostgresServerOptions { Log = progress.Step });
                cs = await infrastructure._postgres.CreateDatabaseAsync("moviewatch");
            }

            var bootstrap = configuration["Kafka:BootstrapServers"];
            if (string.IsNullOrWhiteSpace(bootstrap))
            {
                var progress = new StartupProgress(log);
                progress.Step("No Kafka:BootstrapServers: starting an embedded Kafka...");
                infrastructure._kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1, Log = progress.Step });
                await infrastructure._kafka.CreateTopicAsync(Topic, 6);
                bootstrap = infrastructure._kafka.BootstrapServers;
            }

            infrastructure.ConnectionString = cs;
            infrastructure.BootstrapServers = bootstrap;
            infrastructure.Description =
                $"PostgreSQL: {(infrastructure._postgres is null ? "configured" : "throwaway " + infrastructure._postgres.Kind)}, " +
                $"Kafka: {(infrastructure._kafka is null ? "configured " + bootstrap : "embedded " + infrastructure._kafka.Kind + " " + bootstrap)}";
            return infrastructure;
        }
        catch
        {
            await infrastructure.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_kafka is not null)
        {
            await _kafka.DisposeAsync();
            _kafka = null;
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
            _postgres = null;
        }
    }
}
