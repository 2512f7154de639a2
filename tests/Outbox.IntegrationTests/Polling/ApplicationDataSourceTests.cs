using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>The outbox on the application's own NpgsqlDataSource: no pool of its own; the CDC relay's replication connection apart.</summary>
public sealed class ApplicationDataSourceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task UsePostgreSql_without_a_connection_string_uses_the_applications_data_source_and_opens_no_pool_of_its_own()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 4);
        await using var appDataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(harness.ConnectionString) { ApplicationName = "the-app" }.ConnectionString);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(appDataSource);
        builder.Services.AddOutbox(harness.ConfigureOutbox)
            .UsePostgreSql()
            .UseKafka(k => k.BootstrapServers = harness.Kafka.BootstrapServers)
            .AddPollingRelay(o => o.PollInterval = TimeSpan.FromMilliseconds(200));
        using var host = builder.Build();
        await host.StartAsync();

        await using (var connection = await appDataSource.OpenConnectionAsync())
        {
            await host.Services.GetRequiredService<OutboxWriter>().EnqueueAsync(connection, null, new RelayTestEvent("k", 0));
        }

        Assert.Equal("k", Assert.Single(harness.ReadTopic(1)).Key);
        await using (var command = harness.DataSource.CreateCommand(
            "SELECT count(*) FILTER (WHERE application_name = 'the-app'), count(*) FILTER (WHERE application_name <> 'the-app') FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            Assert.True(reader.GetInt64(0) > 0, "the relay's connections come from the application's data source");
            Assert.Equal(0, reader.GetInt64(1));
        }

        await host.StopAsync();
        Assert.False(appDataSource is null);
        await using var stillOpen = await appDataSource.OpenConnectionAsync();
    }

    [Fact]
    public async Task UsePostgreSql_without_a_registered_data_source_fails_at_start_saying_how_to_register_one()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Services.AddOutbox(o => o.MapEvent<RelayTestEvent>("order", e => e.Key)).UsePostgreSql(PostgreSqlOutboxBuilderExtensions.ApplicationDataSource, o => o.EnsureSchemaOnStart = true);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        Assert.Contains("AddNpgsqlDataSource", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cdc_relay_on_the_applications_data_source_needs_a_replication_connection_string()
    {
        var services = new ServiceCollection();
        services.AddSingleton(NpgsqlDataSource.Create("Host=localhost;Database=app"));
        services.AddOutbox(o => o.MapEvent<RelayTestEvent>("order", e => e.Key)).UsePostgreSql(PostgreSqlOutboxBuilderExtensions.ApplicationDataSource).AddCdcRelay();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<PostgreSqlOutboxOptions>>().Value);
        Assert.Contains("ReplicationConnectionString", error.Message, StringComparison.Ordinal);

        var fixedServices = new ServiceCollection();
        fixedServices.AddSingleton(NpgsqlDataSource.Create("Host=localhost;Database=app"));
        fixedServices.AddOutbox(o => o.MapEvent<RelayTestEvent>("order", e => e.Key))
            .UsePostgreSql(PostgreSqlOutboxBuilderExtensions.ApplicationDataSource, o => o.ReplicationConnectionString = "Host=localhost;Database=app;Username=replicator")
            .AddCdcRelay();
        using var fixedProvider = fixedServices.BuildServiceProvider();
        Assert.Equal("Host=localhost;Database=app;Username=replicator", fixedProvider.GetRequiredService<IOptions<PostgreSqlOutboxOptions>>().Value.ReplicationConnectionString);
    }
}
