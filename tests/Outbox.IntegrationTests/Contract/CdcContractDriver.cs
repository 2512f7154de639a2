using Npgsql;
using Outbox.IntegrationTests.Cdc;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Contract;

/// <summary>The contract's driver for the CDC relay, on <see cref="CdcHarness"/> (the schema AddCdcRelay() expects).</summary>
internal sealed class CdcContractDriver : RelayContractDriver
{
    private readonly CdcHarness _harness;

    private CdcContractDriver(ITestOutputHelper output, KafkaServer kafka, CdcHarness harness)
        : base(output, kafka) => _harness = harness;

    public override string ConnectionString => _harness.ConnectionString;

    public override NpgsqlDataSource DataSource => _harness.DataSource;

    public override OutboxWriter Writer => _harness.Writer;

    public override string Topic => _harness.Topic;

    public override int Partitions => _harness.Partitions;

    public static async Task<RelayContractDriver> CreateAsync(ITestOutputHelper output, KafkaServer kafka)
    {
        var harness = await CdcHarness.CreateAsync(output, partitions: 6, kafka: kafka);

        // Large transactions spill (or, with streaming, are sent) long before they end: the rollback test's big one does.
        await using (var command = harness.DataSource.CreateCommand(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET logical_decoding_work_mem = %L', current_database(), '64kB'); END $$"))
        {
            await command.ExecuteNonQueryAsync();
        }

        var driver = new CdcContractDriver(output, kafka, harness);
        await driver.InitializeAsync();
        return driver;
    }

    protected override void ConfigureOutbox(OutboxOptions options) => _harness.ConfigureOutbox(options);

    protected override object CreateEvent(string key, int token, string? text) => new CdcTestEvent(key, token, text);

    protected override async Task<ContractRelay> StartRelayCoreAsync(string name, RelayContractSettings settings)
    {
        var host = await _harness.StartRelayHostAsync(
            name,
            o =>
            {
                if (settings.InitialRetryDelay is { } baseDelay)
                {
                    o.InitialRetryDelay = baseDelay;
                }

                if (settings.MaxRetryDelay is { } maxDelay)
                {
                    o.MaxRetryDelay = maxDelay;
                }

                if (settings.MaxAttempts is { } attempts)
                {
                    o.MaxAttempts = attempts;
                }
            },
            k =>
            {
                if (settings.ProducerMessageMaxBytes is { } maxBytes)
                {
                    k.Producer.MessageMaxBytes = maxBytes;
                }

                if (settings.ProducerMessageTimeout is { } timeout)
                {
                    k.Producer.MessageTimeoutMs = (int)timeout.TotalMilliseconds;
                }
            },
            outbox: o =>
            {
                // The relay refuses to start with a producer smaller than what it accepts: the writer (default limit)
                // accepts what this relay's producer refuses, which is how a poison event arises.
                if (settings.ProducerMessageMaxBytes is { } maxBytes)
                {
                    o.MaxPayloadBytes = maxBytes - Outbox.Kafka.Publishing.ProducerConfigFactory.RecordOverheadBytes;
                }
            });
        var monitor = CdcHarness.MonitorOf(host);
        return new ContractRelay(name, host, () => monitor.PublishedCount);
    }

    public override Task WaitUntilActiveAsync(ContractRelay relay) => _harness.WaitUntilStreamingAsync(relay.Host);

    /// <summary>
    /// The server drops the relay's replication connection, as when its process dies (what is not confirmed stays in
    /// the slot), and the host is aborted without a graceful stop.
    /// </summary>
    protected override async Task KillCoreAsync(ContractRelay relay)
    {
        await using (var command = DataSource.CreateCommand(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active"))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _harness.SlotName });
            await command.ExecuteScalarAsync();
        }

        await AbortHostAsync(relay.Host);
    }

    public override Task<long> CountPendingAsync() => _harness.CountPendingAsync();

    public override Task WaitAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null) =>
        _harness.WaitAsync(condition, because, timeout);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _harness.DisposeAsync();
    }
}
