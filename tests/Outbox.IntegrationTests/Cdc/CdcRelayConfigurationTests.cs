using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Providers;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>Servers and objects the CDC relay cannot use: each fails with a message that names what to fix.</summary>
[Collection(CdcCollection.Name)]
public sealed class CdcRelayConfigurationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_cdc_relay_asks_the_producer_for_a_1_ms_linger_unless_the_application_sets_one()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        using var host = harness.BuildRelayHost("relay");
        Assert.Equal(1, host.Services.GetRequiredService<IOptions<Outbox.Providers.PublisherDefaults>>().Value.LingerMs);
        var config = Outbox.Kafka.Publishing.ProducerConfigFactory.Create(
            host.Services.GetRequiredService<IOptions<Outbox.KafkaOptions>>().Value,
            host.Services.GetRequiredService<IOptions<Outbox.Providers.PublisherDefaults>>().Value.LingerMs ?? 5);
        Assert.Equal(1, config.LingerMs);

        using var tuned = harness.BuildRelayHost("tuned", kafka: k => k.Producer.LingerMs = 7);
        config = Outbox.Kafka.Publishing.ProducerConfigFactory.Create(
            tuned.Services.GetRequiredService<IOptions<Outbox.KafkaOptions>>().Value,
            tuned.Services.GetRequiredService<IOptions<Outbox.Providers.PublisherDefaults>>().Value.LingerMs ?? 5);
        Assert.Equal(7, config.LingerMs);
    }

    [Fact]
    public async Task A_server_with_wal_level_replica_fails_the_host_start_naming_the_setting()
    {
        var options = new PostgresServerOptions { Kind = PostgresServerKind.LocalCluster };
        options.Settings["wal_level"] = "replica";
        await using var server = await PostgresServer.StartAsync(options);
        await using var harness = await CdcHarness.CreateAsync(output, database: server.Database);

        var host = harness.BuildRelayHost("relay");
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        output.WriteLine(error.Message);
        Assert.Contains("wal_level = logical", error.Message, StringComparison.Ordinal);
        Assert.Contains("'replica'", error.Message, StringComparison.Ordinal);
        Assert.Equal(CdcRelayState.Faulted, CdcHarness.MonitorOf(host).State);
    }

    [Fact]
    public async Task A_user_without_the_replication_privilege_fails_the_host_start_naming_it()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var role = "no_repl_" + Guid.NewGuid().ToString("N")[..8];
        await using (var create = harness.DataSource.CreateCommand(
            $"CREATE ROLE {role} LOGIN NOREPLICATION; GRANT ALL ON SCHEMA outbox TO {role}; GRANT ALL ON ALL TABLES IN SCHEMA outbox TO {role}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var connectionString = new NpgsqlConnectionStringBuilder(harness.ConnectionString) { Username = role }.ConnectionString;
        var host = harness.BuildRelayHost("relay", connectionString: connectionString);
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        output.WriteLine(error.Message);
        Assert.Contains("REPLICATION", error.Message, StringComparison.Ordinal);
        Assert.Contains(role, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_separate_replication_role_is_the_one_whose_replication_privilege_the_start_checks()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var app = "app_" + suffix;
        var replicator = "replicator_" + suffix;
        await using (var create = harness.DataSource.CreateCommand(
            $"CREATE ROLE {app} LOGIN NOREPLICATION; GRANT ALL ON SCHEMA outbox TO {app}; GRANT ALL ON ALL TABLES IN SCHEMA outbox TO {app}; " +
            $"CREATE ROLE {replicator} LOGIN NOREPLICATION"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var appConnection = new NpgsqlConnectionStringBuilder(harness.ConnectionString) { Username = app }.ConnectionString;
        var replicatorConnection = new NpgsqlConnectionStringBuilder(harness.ConnectionString) { Username = replicator }.ConnectionString;

        // The replication role lacks REPLICATION: the start names it and the option, not the application's role.
        var host = harness.BuildRelayHost("relay", connectionString: appConnection, postgreSql: o => o.ReplicationConnectionString = replicatorConnection);
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        output.WriteLine(error.Message);
        Assert.Contains(replicator, error.Message, StringComparison.Ordinal);
        Assert.Contains("ReplicationConnectionString", error.Message, StringComparison.Ordinal);

        // With REPLICATION on the replication role only, the relay starts and streams; the application's role has none.
        // (The application's role does not own the table, so the owner creates the publication.)
        await using (var grant = harness.DataSource.CreateCommand(
            $"ALTER ROLE {replicator} REPLICATION; CREATE PUBLICATION outbox FOR TABLE outbox.messages WITH (publish = 'insert')"))
        {
            await grant.ExecuteNonQueryAsync();
        }

        var relay = harness.BuildRelayHost("relay-2", connectionString: appConnection, postgreSql: o => o.ReplicationConnectionString = replicatorConnection);
        await relay.StartAsync();
        await harness.WaitUntilStreamingAsync(relay);
        await relay.StopAsync();
    }

    [Fact]
    public async Task A_publication_that_also_publishes_updates_fails_the_host_start_naming_the_fix()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        await using (var create = harness.DataSource.CreateCommand("CREATE PUBLICATION wide FOR TABLE outbox.messages"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var host = harness.BuildRelayHost("relay", o => o.PublicationName = "wide");
        var error = await Assert.ThrowsAsync<OutboxConfigurationException>(() => host.StartAsync());
        output.WriteLine(error.Message);
        Assert.Contains("CdcRelayOptions.PublicationName", error.Message, StringComparison.Ordinal);
        Assert.Contains("publish = 'insert'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_slot_and_publication_names_fail_the_host_start()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var host = harness.BuildRelayHost("relay", o =>
        {
            o.SlotName = "Bad-Slot";
            o.PublicationName = "bad\"name";
        });
        var error = await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("CdcRelayOptions.SlotName", error.Message, StringComparison.Ordinal);
        Assert.Contains("CdcRelayOptions.PublicationName", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalidated_slot_is_an_error_and_unhealthy_and_is_not_recreated()
    {
        var options = new PostgresServerOptions { Kind = PostgresServerKind.LocalCluster };
        options.Settings["max_slot_wal_keep_size"] = "1MB";
        options.Settings["max_wal_size"] = "64MB";
        options.Settings["min_wal_size"] = "32MB";
        await using var server = await PostgresServer.StartAsync(options);
        await using var harness = await CdcHarness.CreateAsync(output, database: server.Database);

        // The relay creates its slot, publishes, and stops; the slot stays behind at its confirmed position.
        var first = await harness.StartRelayHostAsync("relay-1");
        await harness.WaitUntilStreamingAsync(first);
        await harness.WriteAsync(10, keys: 2);
        await harness.WaitAsync(() => CdcHarness.MonitorOf(first).PublishedCount >= 10, "the first rows are published");
        await first.StopAsync();

        // Rows written while no relay runs, then far more WAL than max_slot_wal_keep_size, and a checkpoint.
        var unpublished = await harness.WriteAsync(5, keys: 2);
        await harness.WaitAsync(
            async () =>
            {
                await using var burn = harness.DataSource.CreateCommand(
                    "CREATE TABLE IF NOT EXISTS burn (x text); INSERT INTO burn SELECT repeat('x', 1000) FROM generate_series(1, 5000); " +
                    "SELECT pg_switch_wal(); CHECKPOINT;");
                await burn.ExecuteNonQueryAsync();
                return (await harness.ReadSlotAsync()).WalStatus == "lost";
            },
            "the server invalidates the slot");

        var second = await harness.StartRelayHostAsync("relay-2");
        var monitor = CdcHarness.MonitorOf(second);
        CdcRelayHealthReport health = null!;
        await harness.WaitAsync(
            async () =>
            {
                health = await monitor.CheckHealthAsync();
                return health.Status == HealthStatus.Unhealthy && monitor.State == CdcRelayState.Faulted;
            },
            "the relay reports the lost slot");
        output.WriteLine(health.Description);
        output.WriteLine(monitor.LastError);
        Assert.True(health.Slot!.IsLost);
        Assert.Contains(harness.SlotName, monitor.LastError, StringComparison.Ordinal);
        Assert.Contains("invalidated", monitor.LastError, StringComparison.Ordinal);

        // Still lost after the relay retried a few times: never silently recreated. The unpublished rows are still in the table.
        var retriesBefore = monitor.FaultedChecks;
        await harness.WaitAsync(() => monitor.FaultedChecks >= retriesBefore + 3, "the relay looks at the slot again");
        Assert.Equal(CdcRelayState.Faulted, monitor.State);
        Assert.Equal("lost", (await monitor.GetSlotStatusAsync()).WalStatus);
        Assert.Equal(5L, await harness.CountRowsAsync());

        // The operator drops the slot: the relay creates a new one and publishes the rows the table kept.
        await using (var drop = harness.DataSource.CreateCommand($"SELECT pg_drop_replication_slot('{harness.SlotName}')"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await harness.WaitAsync(
            async () => await harness.CountPendingAsync() == 0 && monitor.State == CdcRelayState.Streaming,
            "the relay recovers, publishes the kept rows and streams");
        var records = harness.ReadTopic();
        Assert.All(unpublished, row => Assert.Contains(records, r => r.Id == row.Id));
        Assert.Equal(HealthStatus.Healthy, (await monitor.CheckHealthAsync()).Status);
    }
}
