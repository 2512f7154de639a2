using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Outbox.PostgreSql;
using Outbox.Providers;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>Debezium mode in the application: nothing publishes, the publication Debezium reads is created, and a
/// second relay is refused.</summary>
[Collection(CdcCollection.Name)]
public sealed class DebeziumModeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Debezium_mode_creates_the_insert_only_publication_and_runs_no_relay()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        using var host = Build(harness, outbox => outbox.UseDebezium(d => d.PublicationName = "for_debezium"));
        await host.StartAsync();
        try
        {
            Assert.Empty(host.Services.GetServices<IHostedService>().OfType<Outbox.PostgreSql.Cdc.CdcRelayService>());
            Assert.Null(host.Services.GetService<Outbox.Providers.IOutboxPublisher>());

            await using (var publication = harness.DataSource.CreateCommand(
                "SELECT pubinsert, pubupdate, pubdelete, pubtruncate, (SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_publication_tables t WHERE t.pubname = p.pubname) FROM pg_publication p WHERE pubname = 'for_debezium'"))
            await using (var reader = await publication.ExecuteReaderAsync())
            {
                Assert.True(await reader.ReadAsync(), "The publication exists.");
                Assert.True(reader.GetBoolean(0));
                Assert.False(reader.GetBoolean(1));
                Assert.False(reader.GetBoolean(2));
                Assert.False(reader.GetBoolean(3));
                Assert.Equal("outbox.messages", reader.GetString(4));
            }

            // Writes are unchanged and nothing in the process takes the rows.
            await harness.WriteAsync(5, keys: 1);
            Assert.Equal(5L, await harness.CountRowsAsync());
            Assert.False((await harness.ReadSlotAsync()).Exists);

            // The configuration the operator registers in Kafka Connect.
            var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DebeziumOptions>>().Value;
            var properties = DebeziumConnectorConfig.CreateProperties(harness.OutboxOptions, options);
            Assert.Equal("for_debezium", properties["publication.name"]);
            Assert.Equal(new NpgsqlConnectionStringBuilder(harness.ConnectionString).Database, properties["database.dbname"]);
            Assert.Equal(harness.Prefix + ".${routedByValue}", properties["transforms.outbox.route.topic.replacement"]);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Debezium_mode_next_to_the_cdc_relay_is_refused_whichever_comes_first()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var first = Assert.Throws<OutboxConfigurationException>(() => Build(harness, outbox => outbox
            .UseKafka(k => k.BootstrapServers = harness.Kafka.BootstrapServers)
            .AddCdcRelay(o => o.SlotName = harness.SlotName)
            .UseDebezium()));
        var second = Assert.Throws<OutboxConfigurationException>(() => Build(harness, outbox => outbox
            .UseDebezium()
            .UseKafka(k => k.BootstrapServers = harness.Kafka.BootstrapServers)
            .AddCdcRelay(o => o.SlotName = harness.SlotName)));
        Assert.Contains("UseDebezium() and AddCdcRelay()", first.Message, StringComparison.Ordinal);
        Assert.Equal(first.Message, second.Message);
    }

    private IHost Build(CdcHarness harness, Action<IOutboxBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output, "app"));
        configure(builder.Services.AddOutbox(harness.ConfigureOutbox).UsePostgreSql(harness.ConnectionString));
        return builder.Build();
    }
}
