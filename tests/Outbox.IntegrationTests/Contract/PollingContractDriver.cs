using Npgsql;
using Outbox.IntegrationTests.Polling;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Contract;

/// <summary>The contract's driver for the polling relay, on <see cref="RelayHarness"/>.</summary>
internal sealed class PollingContractDriver : RelayContractDriver
{
    private readonly RelayHarness _harness;

    private PollingContractDriver(ITestOutputHelper output, KafkaServer kafka, RelayHarness harness)
        : base(output, kafka) => _harness = harness;

    public override string ConnectionString => _harness.ConnectionString;

    public override NpgsqlDataSource DataSource => _harness.DataSource;

    public override OutboxWriter Writer => _harness.Writer;

    public override string Topic => _harness.Topic;

    public override int Partitions => _harness.Partitions;

    public static async Task<RelayContractDriver> CreateAsync(ITestOutputHelper output, KafkaServer kafka)
    {
        var harness = await RelayHarness.CreateAsync(output, laneCount: 16, partitions: 6, kafka: kafka);
        var driver = new PollingContractDriver(output, kafka, harness);
        await driver.InitializeAsync();
        return driver;
    }

    protected override void ConfigureOutbox(OutboxOptions options) => _harness.ConfigureOutbox(options);

    protected override object CreateEvent(string key, int token, string? text) => new RelayTestEvent(key, token, text);

    protected override async Task<ContractRelay> StartRelayCoreAsync(string name, RelayContractSettings settings)
    {
        var host = await _harness.StartRelayHostAsync(
            name,
            o =>
            {
                o.InitialRetryDelay = settings.InitialRetryDelay ?? TimeSpan.FromMilliseconds(200);
                o.MaxRetryDelay = settings.MaxRetryDelay ?? TimeSpan.FromSeconds(2);
                if (settings.MaxAttempts is { } attempts)
                {
                    o.MaxAttempts = attempts;
                }
            },
            k =>
            {
                // As the CDC harness: a killed relay's producer does not hold its disposal up for long.
                k.FlushTimeout = TimeSpan.FromSeconds(2);
                if (settings.ProducerMessageMaxBytes is { } maxBytes)
                {
                    k.Producer.MessageMaxBytes = maxBytes;
                }

                if (settings.ProducerMessageTimeout is { } timeout)
                {
                    k.Producer.MessageTimeoutMs = (int)timeout.TotalMilliseconds;
                }
            },
            o =>
            {
                // The relay refuses to start with a producer smaller than what it accepts: the writer (default limit)
                // accepts what this relay's producer refuses, which is how a poison event arises.
                if (settings.ProducerMessageMaxBytes is { } maxBytes)
                {
                    o.MaxPayloadBytes = maxBytes - Outbox.Kafka.Publishing.ProducerConfigFactory.RecordOverheadBytes;
                }
            });
        var relay = RelayHarness.RelayOf(host);
        return new ContractRelay(name, host, () => relay.Published);
    }

    public override Task WaitUntilActiveAsync(ContractRelay relay)
    {
        var engine = RelayHarness.RelayOf(relay.Host);
        return WaitAsync(() => engine.Scheduler.Count > 0, $"{relay.Name} holds lanes");
    }

    /// <summary>
    /// Aborts the host: batches in flight are cancelled wherever they are (handed to the producer or not, acknowledged
    /// or not), and the lanes are not given back, so a successor gets them only once their leases expire.
    /// </summary>
    protected override Task KillCoreAsync(ContractRelay relay) => AbortHostAsync(relay.Host);

    public override Task<long> CountPendingAsync() => _harness.PendingAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _harness.DisposeAsync();
    }
}
