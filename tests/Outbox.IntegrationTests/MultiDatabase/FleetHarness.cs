using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.IntegrationTests.Polling;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.MultiDatabase;

/// <summary>
/// Tenant databases on one or more PostgreSQL clusters, relay hosts configured like an application over all of them
/// (AddOutbox + UsePostgreSqlDatabases + UseKafka + AddPollingRelay), a writer per database and a reader of the shared topic.
/// Keys carry their database's name, so a key's events all live in one database.
/// </summary>
internal sealed class FleetHarness : IAsyncDisposable
{
    private readonly List<IHost> _hosts = [];
    private readonly ConcurrentDictionary<string, NpgsqlDataSource> _dataSources = new(StringComparer.Ordinal);
    private readonly ServiceProvider _writerServices;

    private FleetHarness(ITestOutputHelper output, KafkaServer kafka, string prefix, int partitions)
    {
        Output = output;
        Kafka = kafka;
        Prefix = prefix;
        Partitions = partitions;
        var services = new ServiceCollection();
        services.AddOutbox(ConfigureOutbox).UsePostgreSqlDatabases(o => o.Add("writer", "Host=unused"));
        _writerServices = services.BuildServiceProvider();
        Writer = _writerServices.GetRequiredService<OutboxWriter>();
    }

    public ITestOutputHelper Output { get; }

    public KafkaServer Kafka { get; }

    public string Prefix { get; }

    public int Partitions { get; }

    public string Topic => Prefix + "." + RelayHarness.AggregateType;

    public OutboxWriter Writer { get; }

    public static async Task<FleetHarness> CreateAsync(ITestOutputHelper output, int partitions = 8)
    {
        var kafka = await SharedInfrastructure.KafkaAsync();
        var harness = new FleetHarness(output, kafka, "fleet-" + Guid.NewGuid().ToString("N")[..12], partitions);
        await kafka.CreateTopicAsync(harness.Topic, partitions);
        return harness;
    }

    public void ConfigureOutbox(OutboxOptions options)
    {
        options.LaneCount = 16;
        options.TopicTemplate = Prefix + "." + OutboxOptions.AggregateTypePlaceholder;
        options.MapEvent<RelayTestEvent>(RelayHarness.AggregateType, e => e.Key, nameof(RelayTestEvent));
    }

    /// <summary>Creates an empty database on <paramref name="server"/> (no schema: the fleet creates it).</summary>
    public static async Task<OutboxDatabase> CreateDatabaseAsync(PostgresServer server, string name) =>
        new(name, await server.CreateDatabaseAsync("tenant"));

    /// <summary>Starts a relay host over the databases of <paramref name="configure"/> or of <paramref name="source"/>.</summary>
    public async Task<IHost> StartHostAsync(
        string name, Action<OutboxDatabasesOptions>? configure = null, IOutboxDatabaseSource? source = null, bool relay = true, bool start = true, bool cdc = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddProvider(new TestOutputLoggerProvider(Output, name));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        void Options(OutboxDatabasesOptions o)
        {
            o.EnsureSchemaOnStart = true;
            o.RefreshInterval = TimeSpan.FromMilliseconds(500);
            configure?.Invoke(o);
        }

        var outbox = builder.Services.AddOutbox(ConfigureOutbox);
        outbox = source is null ? outbox.UsePostgreSqlDatabases(Options) : outbox.UsePostgreSqlDatabases(_ => source, Options);
        if (relay && cdc)
        {
            outbox.UseKafka(k => k.BootstrapServers = Kafka.BootstrapServers)
                .AddCdcRelay(o => o.StandbyPollInterval = TimeSpan.FromMilliseconds(300));
        }
        else if (relay)
        {
            outbox.UseKafka(k => k.BootstrapServers = Kafka.BootstrapServers)
                .AddPollingRelay(o =>
                {
                    o.InstanceId = name;
                    o.LeaseDuration = TimeSpan.FromSeconds(5);
                    o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                    o.PollInterval = TimeSpan.FromMilliseconds(500);
                });
        }

        var host = builder.Build();
        _hosts.Add(host);
        if (start)
        {
            await host.StartAsync();
        }

        return host;
    }

    public NpgsqlDataSource DataSource(OutboxDatabase database) =>
        _dataSources.GetOrAdd(database.ConnectionString, cs => NpgsqlDataSource.Create(cs));

    /// <summary>Writes <paramref name="count"/> events over <paramref name="keys"/> keys of <paramref name="database"/>, in transactions of up to <paramref name="perTransaction"/>.</summary>
    public async Task WriteAsync(OutboxDatabase database, int count, int keys, ConcurrentDictionary<string, int> written, int perTransaction = 10)
    {
        await using var connection = await DataSource(database).OpenConnectionAsync();
        var i = 0;
        while (i < count)
        {
            await using var tx = await connection.BeginTransactionAsync();
            var events = new List<object>();
            for (var n = 0; n < perTransaction && i < count; n++, i++)
            {
                var key = database.Name + "-k" + (i % keys);
                var seq = written.AddOrUpdate(key, 1, (_, v) => v + 1) - 1;
                events.Add(new RelayTestEvent(key, seq));
            }

            await Writer.EnqueueBatchAsync(connection, tx, events);
            await tx.CommitAsync();
        }
    }

    public async Task<long> PendingAsync(OutboxDatabase database)
    {
        await using var command = DataSource(database).CreateCommand("SELECT count(*) FROM outbox.messages WHERE published_at IS NULL");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public Task WaitUntilDrainedAsync(IEnumerable<OutboxDatabase> databases, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(
            async () =>
            {
                foreach (var database in databases)
                {
                    if (await PendingAsync(database) > 0)
                    {
                        return false;
                    }
                }

                return true;
            },
            "every database is drained",
            timeout ?? TimeSpan.FromSeconds(120));

    /// <summary>Reads the topic from the beginning until <paramref name="expected"/> records arrived, then until it is quiet.</summary>
    public List<PublishedRecord> ReadTopic(int expected, TimeSpan? timeout = null) => RelayHarness.ReadTopic(Kafka.BootstrapServers, Topic, Partitions, expected, timeout);

    /// <summary>Every written event arrived, and each key's first copies are 0..n-1 in order. Returns the duplicates.</summary>
    public int AssertAllInOrder(IReadOnlyList<PublishedRecord> records, IReadOnlyDictionary<string, int> written) => RelayHarness.AssertAllInOrder(records, written, Output);

    public static OutboxFleetMonitor MonitorOf(IHost host) => host.Services.GetRequiredService<OutboxFleetMonitor>();

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            try
            {
                await host.StopAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                // Stopped (or never started) by the test.
            }

            host.Dispose();
        }

        foreach (var dataSource in _dataSources.Values)
        {
            await dataSource.DisposeAsync();
        }

        await _writerServices.DisposeAsync();
    }
}
