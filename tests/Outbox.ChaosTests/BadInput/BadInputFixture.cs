using Npgsql;
using Outbox.ChaosTests.Model;
using Outbox.PostgreSql;
using Outbox.Testing;

namespace Outbox.ChaosTests.BadInput;

/// <summary>One PostgreSQL server and one embedded Kafka broker for the bad-input tests; each test gets a database and topics of its own.</summary>
public sealed class BadInputFixture : IAsyncLifetime
{
    private PostgresServer? _postgres;
    private KafkaServer? _kafka;

    public PostgresServer Postgres => _postgres ?? throw new InvalidOperationException("not started");

    public KafkaServer Kafka => _kafka ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _postgres = await PostgresServer.StartAsync();
        _kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Brokers = 1, Kind = KafkaServerKind.Embedded });
    }

    public async Task DisposeAsync()
    {
        if (_kafka is not null)
        {
            await _kafka.DisposeAsync();
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    /// <summary>A fresh database with the outbox schema and the chaos tables.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var cs = await Postgres.CreateDatabaseAsync("bad_input");
        await using var dataSource = NpgsqlDataSource.Create(cs);
        var options = new OutboxOptions();
        ChaosEvent.Map(options);
        await OutboxSchema.EnsureCreatedAsync(dataSource, options);
        await ChaosSchema.CreateAsync(dataSource, writers: 1, keys: 10, auditDeletes: false);
        return cs;
    }

    /// <summary>Outbox options with the chaos event mapped to a topic unique to the calling test: <c>bad.&lt;id&gt;.chaos</c>.</summary>
    public static Action<OutboxOptions> UniqueTopic(out string topic)
    {
        var template = "bad." + Guid.NewGuid().ToString("N")[..12] + "." + OutboxOptions.AggregateTypePlaceholder;
        topic = template.Replace(OutboxOptions.AggregateTypePlaceholder, ChaosEvent.AggregateType, StringComparison.Ordinal);
        return o =>
        {
            ChaosEvent.Map(o);
            o.TopicTemplate = template;
        };
    }
}
