using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Outbox.Testing;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.MultiDatabase;

/// <summary>
/// One outbox over many databases (<c>UsePostgreSqlDatabases</c>): databases on two clusters relayed by one fleet, schemas
/// created per database, databases added and removed at run time, several instances sharing each database lane by lane,
/// one broken database isolated from the others, and the database dimension of the relay's metrics.
/// </summary>
public sealed class MultiDatabaseRelayTests(ITestOutputHelper output)
{
    private static readonly Lazy<Task<PostgresServer>> SecondCluster = new(() => PostgresServer.StartAsync());

    static MultiDatabaseRelayTests() =>
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (SecondCluster.IsValueCreated && SecondCluster.Value.IsCompletedSuccessfully)
            {
                SecondCluster.Value.GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        };

    [Fact]
    public async Task One_relay_host_creates_the_schema_in_databases_on_two_clusters_and_publishes_all_their_events_in_order()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var first = await SharedInfrastructure.PostgresAsync();
        var second = await SecondCluster.Value;
        var databases = new[]
        {
            await FleetHarness.CreateDatabaseAsync(first, "a1"),
            await FleetHarness.CreateDatabaseAsync(first, "a2"),
            await FleetHarness.CreateDatabaseAsync(first, "a3"),
            await FleetHarness.CreateDatabaseAsync(second, "b1"),
            await FleetHarness.CreateDatabaseAsync(second, "b2"),
        };
        var host = await harness.StartHostAsync("relay-1", o =>
        {
            foreach (var database in databases)
            {
                o.Databases.Add(database);
            }
        });

        var written = new ConcurrentDictionary<string, int>();
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 300, 7, written)));
        await harness.WaitUntilDrainedAsync(databases);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);

        var states = FleetHarness.MonitorOf(host).Databases;
        Assert.Equal(databases.Select(d => d.Name).Order(), states.Select(s => s.Name));
        Assert.All(states, s => Assert.True(s.Served && s.Relaying && s.HeartbeatValid && s.OwnedLanes.Count == 16, s.ToString()));
        Assert.All(states, s => Assert.Equal(300, s.PublishedCount));
        Assert.Equal(HealthStatus.Healthy, FleetHarness.MonitorOf(host).CheckHealth().Status);

        var statuses = await FleetHarness.MonitorOf(host).GetStatusAsync();
        Assert.All(statuses, s => Assert.True(s.Error is null && s.Status is { Pending: 0, Lanes.Count: 16 }, s.Name + ": " + s.Error));
    }

    /// <summary>
    /// One drain cycle at a time over all databases (<c>MaxConcurrentDrainCycles = 1</c>, two relay hosts): every
    /// cycle gives its slot back, so every database drains, in order.
    /// </summary>
    [Fact]
    public async Task With_one_drain_cycle_at_a_time_over_all_databases_every_database_drains_in_order()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var databases = new[]
        {
            await FleetHarness.CreateDatabaseAsync(server, "gate1"),
            await FleetHarness.CreateDatabaseAsync(server, "gate2"),
            await FleetHarness.CreateDatabaseAsync(server, "gate3"),
            await FleetHarness.CreateDatabaseAsync(server, "gate4"),
        };
        void Configure(OutboxDatabasesOptions o)
        {
            o.MaxConcurrentDrainCycles = 1;
            foreach (var database in databases)
            {
                o.Databases.Add(database);
            }
        }

        await harness.StartHostAsync("gate-1", Configure);
        await harness.StartHostAsync("gate-2", Configure);
        var written = new ConcurrentDictionary<string, int>();
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 200, 5, written)));
        await harness.WaitUntilDrainedAsync(databases);

        // And again, while the databases are written to all at once.
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 100, 5, written)));
        await harness.WaitUntilDrainedAsync(databases);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
    }

    /// <summary>
    /// Drain cycles take the shared slots in the order they asked: with one slot for all databases, a database with a
    /// long backlog does not keep a quiet one from being drained meanwhile.
    /// </summary>
    [Fact]
    public async Task With_one_drain_cycle_at_a_time_a_database_with_a_long_backlog_does_not_starve_a_quiet_one()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var hot = await FleetHarness.CreateDatabaseAsync(server, "backlog");
        var quiet = await FleetHarness.CreateDatabaseAsync(server, "quiet");
        void Configure(OutboxDatabasesOptions o)
        {
            o.MaxConcurrentDrainCycles = 1;
            o.Databases.Add(hot);
            o.Databases.Add(quiet);
        }

        // The schema first (no relay), then a long backlog in one database, then the relay.
        var schema = await harness.StartHostAsync("schema", Configure, relay: false);
        await schema.StopAsync();
        var written = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(hot, 60_000, 50, written, perTransaction: 1000);
        await harness.StartHostAsync("relay", Configure);
        await Eventually.TrueAsync(async () => await harness.PendingAsync(hot) < 60_000, "the backlog is being drained");

        await harness.WriteAsync(quiet, 20, 4, written);
        await Eventually.TrueAsync(async () => await harness.PendingAsync(quiet) == 0, "the quiet database is drained");
        var left = await harness.PendingAsync(hot);
        output.WriteLine($"backlog left when the quiet database was drained: {left}");
        Assert.True(left > 0, "the quiet database waited for the whole backlog");

        await harness.WaitUntilDrainedAsync([hot, quiet]);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
    }

    [Fact]
    public async Task A_database_added_at_run_time_gets_its_schema_and_is_relayed_and_a_removed_one_stops_being_relayed_and_gives_its_lanes_back()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var stays = await FleetHarness.CreateDatabaseAsync(server, "stays");
        var set = new OutboxDatabaseSet([stays]);
        var host = await harness.StartHostAsync("relay-1", source: set, configure: o => o.RefreshInterval = TimeSpan.FromMinutes(10));

        // The set wakes the fleet at once: the long refresh interval is never waited for.
        var added = await FleetHarness.CreateDatabaseAsync(server, "added");
        Assert.True(set.Add(added));
        await Eventually.TrueAsync(() => FleetHarness.MonitorOf(host).Databases.Any(d => d.Name == "added" && d.Served && d.OwnedLanes.Count == 16), "the added database is relayed");

        var written = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(added, 200, 5, written);
        await harness.WriteAsync(stays, 200, 5, written);
        await harness.WaitUntilDrainedAsync([added, stays]);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);

        Assert.True(set.Remove("added"));
        await Eventually.TrueAsync(() => FleetHarness.MonitorOf(host).Databases.All(d => d.Name != "added"), "the removed database leaves the fleet");
        await using (var command = harness.DataSource(added).CreateCommand("SELECT count(*) FROM outbox.lanes WHERE owner IS NOT NULL"))
        {
            Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
        }

        // Rows written to a removed database stay there, and the others are still relayed.
        var later = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(added, 20, 2, later);
        await harness.WriteAsync(stays, 20, 2, new ConcurrentDictionary<string, int>(written.Where(w => w.Key.StartsWith("stays-", StringComparison.Ordinal))));
        await harness.WaitUntilDrainedAsync([stays]);
        Assert.Equal(20, await harness.PendingAsync(added));
    }

    [Fact]
    public async Task Two_relay_hosts_share_every_database_lane_by_lane_and_keep_each_keys_order()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var databases = new[] { await FleetHarness.CreateDatabaseAsync(server, "t1"), await FleetHarness.CreateDatabaseAsync(server, "t2") };
        void Configure(OutboxDatabasesOptions o)
        {
            foreach (var database in databases)
            {
                o.Databases.Add(database);
            }
        }

        var one = await harness.StartHostAsync("relay-1", Configure);
        var two = await harness.StartHostAsync("relay-2", Configure);
        await Eventually.TrueAsync(
            () => new[] { one, two }.All(h => FleetHarness.MonitorOf(h).Databases.All(d => d.OwnedLanes.Count == 8)),
            "each host holds half of each database's lanes");

        var written = new ConcurrentDictionary<string, int>();
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 400, 16, written)));
        await harness.WaitUntilDrainedAsync(databases);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
        Assert.All(new[] { one, two }, h => Assert.All(FleetHarness.MonitorOf(h).Databases, d => Assert.True(d.PublishedCount > 0, d.ToString())));
    }

    [Fact]
    public async Task A_database_that_cannot_be_reached_is_reported_by_name_and_the_others_are_relayed()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var good = await FleetHarness.CreateDatabaseAsync(server, "good");
        var missing = new OutboxDatabase("missing", new NpgsqlConnectionStringBuilder(good.ConnectionString) { Database = "no_such_database_" + Guid.NewGuid().ToString("N")[..8] }.ConnectionString);
        var host = await harness.StartHostAsync("relay-1", o => { o.Databases.Add(good); o.Databases.Add(missing); });

        var written = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(good, 100, 4, written);
        await harness.WaitUntilDrainedAsync([good]);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);

        var monitor = FleetHarness.MonitorOf(host);
        var state = Assert.Single(monitor.Databases, d => d.Name == "missing");
        Assert.False(state.Served);
        Assert.Contains("creating the outbox schema", state.Problem, StringComparison.Ordinal);
        var health = monitor.CheckHealth();
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("missing", health.Description, StringComparison.Ordinal);
        var statuses = await monitor.GetStatusAsync();
        Assert.NotNull(Assert.Single(statuses, s => s.Name == "missing").Error);
        Assert.Equal(0, Assert.Single(statuses, s => s.Name == "good").Status!.Pending);
    }

    [Fact]
    public async Task The_relays_metrics_carry_the_database_name_as_outbox_database()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var x = await FleetHarness.CreateDatabaseAsync(server, "mx");
        var y = await FleetHarness.CreateDatabaseAsync(server, "my");
        var host = await harness.StartHostAsync("relay-1", o => { o.Databases.Add(x); o.Databases.Add(y); }, start: false);
        var published = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == "outbox.relay.published")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "outbox.database")
                {
                    published.AddOrUpdate((string)tag.Value!, value, (_, v) => v + value);
                }
            }
        });
        listener.Start();
        await host.StartAsync();

        var written = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(x, 30, 3, written);
        await harness.WriteAsync(y, 50, 3, written);
        await harness.WaitUntilDrainedAsync([x, y]);
        Assert.Equal(30, published.GetValueOrDefault("mx"));
        Assert.Equal(50, published.GetValueOrDefault("my"));
    }

    [Fact]
    public async Task The_backlog_gauges_report_each_databases_pending_rows_tagged_with_its_name()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var x = await FleetHarness.CreateDatabaseAsync(server, "gx");
        var y = await FleetHarness.CreateDatabaseAsync(server, "gy");
        var host = await harness.StartHostAsync("app", o => { o.Databases.Add(x); o.Databases.Add(y); }, relay: false);
        var written = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(x, 3, 1, written);
        await harness.WriteAsync(y, 5, 1, written);

        var pending = new ConcurrentDictionary<string, (long Value, string? Database)>();
        using var listener = new MeterListener();
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == "outbox.messages.pending")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? name = null;
            string? database = null;
            foreach (var tag in tags)
            {
                name = tag.Key == "outbox.database" ? (string?)tag.Value : name;
                database = tag.Key == "db.namespace" ? (string?)tag.Value : database;
            }

            pending[name ?? "?"] = (value, database);
        });
        listener.Start();
        await Eventually.TrueAsync(
            () =>
            {
                listener.RecordObservableInstruments();
                return pending.GetValueOrDefault("gx").Value == 3 && pending.GetValueOrDefault("gy").Value == 5;
            },
            "the gauges report 3 and 5 pending rows");
        Assert.Equal(new NpgsqlConnectionStringBuilder(x.ConnectionString).Database, pending["gx"].Database);
        Assert.Equal(2, pending.Count);
    }

    [Fact]
    public async Task Only_the_first_MaxListeningDatabases_databases_listen_and_the_others_are_found_by_the_poll()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var databases = new[] { await FleetHarness.CreateDatabaseAsync(server, "l1"), await FleetHarness.CreateDatabaseAsync(server, "l2"), await FleetHarness.CreateDatabaseAsync(server, "l3") };
        var host = await harness.StartHostAsync("relay-1", o =>
        {
            o.MaxListeningDatabases = 1;
            foreach (var database in databases)
            {
                o.Databases.Add(database);
            }
        });
        Assert.Equal(1, FleetHarness.MonitorOf(host).Databases.Count(d => d.Listening));

        // The listeners: one LISTEN connection in all, in the database that listens.
        var listening = FleetHarness.MonitorOf(host).Databases.Single(d => d.Listening).Name;
        await Eventually.TrueAsync(
            async () =>
            {
                var listeners = new Dictionary<string, long>();
                foreach (var database in databases)
                {
                    await using var activity = harness.DataSource(database).CreateCommand(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
                    listeners[database.Name] = (long)(await activity.ExecuteScalarAsync())!;
                }

                return listeners.Values.Sum() == 1 && listeners[listening] == 1;
            },
            "exactly one LISTEN connection, in the listening database");

        var written = new ConcurrentDictionary<string, int>();
        await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 50, 3, written)));
        await harness.WaitUntilDrainedAsync(databases);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
    }

    [Fact]
    public async Task New_rows_of_databases_nobody_listens_to_are_found_through_the_servers_statistics_long_before_their_next_poll()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var first = await SharedInfrastructure.PostgresAsync();
        var second = await SecondCluster.Value;
        var databases = new[] { await FleetHarness.CreateDatabaseAsync(first, "q1"), await FleetHarness.CreateDatabaseAsync(first, "q2"), await FleetHarness.CreateDatabaseAsync(second, "q3") };
        var host = await harness.StartHostAsync("relay-1", o =>
        {
            o.MaxListeningDatabases = 0;
            o.NotListeningPollInterval = TimeSpan.FromMinutes(10);
            foreach (var database in databases)
            {
                o.Databases.Add(database);
            }
        });
        await Eventually.TrueAsync(() => FleetHarness.MonitorOf(host).Databases.All(d => d.OwnedLanes.Count == 16 && !d.Listening), "every database is relayed, none listened to");

        // Twice, with a pause: each wave of rows must be found without a notification and without the 10-minute poll.
        var written = new ConcurrentDictionary<string, int>();
        for (var wave = 0; wave < 2; wave++)
        {
            await Task.WhenAll(databases.Select(d => harness.WriteAsync(d, 20, 2, written)));
            await harness.WaitUntilDrainedAsync(databases, TimeSpan.FromSeconds(60));
        }

        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
    }

    [Fact]
    public async Task A_database_whose_connection_string_changes_is_relayed_from_the_new_one()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var before = await FleetHarness.CreateDatabaseAsync(server, "moved");
        var after = new OutboxDatabase("moved", await server.CreateDatabaseAsync("tenant"));
        var set = new OutboxDatabaseSet([before]);
        var host = await harness.StartHostAsync("relay-1", source: set);
        await Eventually.TrueAsync(() => FleetHarness.MonitorOf(host).Databases.Any(d => d.OwnedLanes.Count == 16), "the first database is relayed");

        Assert.True(set.Add(after));
        await using (var created = harness.DataSource(after).CreateCommand("SELECT 1"))
        {
            await created.ExecuteScalarAsync();
        }

        await Eventually.TrueAsync(
            async () =>
            {
                await using var owned = harness.DataSource(before).CreateCommand("SELECT count(*) FROM outbox.lanes WHERE owner IS NOT NULL");
                return (long)(await owned.ExecuteScalarAsync())! == 0 && FleetHarness.MonitorOf(host).Databases.Single().OwnedLanes.Count == 16;
            },
            "the old database's lanes are given back and the new one's taken");
        var written = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(after, 40, 4, written);
        await harness.WaitUntilDrainedAsync([after]);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
    }

    /// <summary>A tenant catalog that answers once, then returns a name twice, then fails.</summary>
    private sealed class FlakySource(OutboxDatabase first, OutboxDatabase second) : IOutboxDatabaseSource
    {
        public int Calls;

        public ValueTask<IReadOnlyCollection<OutboxDatabase>> GetDatabasesAsync(CancellationToken cancellationToken) =>
            Interlocked.Increment(ref Calls) switch
            {
                1 => ValueTask.FromResult<IReadOnlyCollection<OutboxDatabase>>([first]),
                2 => ValueTask.FromResult<IReadOnlyCollection<OutboxDatabase>>([first, second, new OutboxDatabase(second.Name, first.ConnectionString)]),
                _ => throw new InvalidOperationException("the tenant catalog is down"),
            };
    }

    [Fact]
    public async Task A_failing_source_keeps_the_databases_known_before_and_a_name_given_twice_is_served_from_its_first_entry()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var server = await SharedInfrastructure.PostgresAsync();
        var first = await FleetHarness.CreateDatabaseAsync(server, "s1");
        var second = await FleetHarness.CreateDatabaseAsync(server, "s2");
        var source = new FlakySource(first, second);
        var host = await harness.StartHostAsync("relay-1", source: source, configure: o => o.RefreshInterval = TimeSpan.FromMilliseconds(200));
        var monitor = FleetHarness.MonitorOf(host);
        await Eventually.TrueAsync(
            () => Volatile.Read(ref source.Calls) >= 3 && monitor.SourceProblem is not null && monitor.Databases.Count == 2 && monitor.Databases.All(d => d.HeartbeatValid),
            "the source has failed, and both databases are relayed");

        Assert.Equal(["s1", "s2"], monitor.Databases.Select(d => d.Name));
        var health = monitor.CheckHealth();
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("the tenant catalog is down", health.Description, StringComparison.Ordinal);

        // s2 is served from its first entry (its own database), not from the duplicate that points at s1's.
        var written = new ConcurrentDictionary<string, int>();
        await harness.WriteAsync(first, 20, 2, written);
        await harness.WriteAsync(second, 30, 2, written);
        await harness.WaitUntilDrainedAsync([first, second]);
        harness.AssertAllInOrder(harness.ReadTopic(written.Values.Sum()), written);
        Assert.Equal(30, monitor.Databases.Single(d => d.Name == "s2").PublishedCount);
    }

    [Fact]
    public async Task When_no_database_can_be_served_the_health_check_is_unhealthy()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var good = await FleetHarness.CreateDatabaseAsync(await SharedInfrastructure.PostgresAsync(), "x");
        var missing = new OutboxDatabase("gone", new NpgsqlConnectionStringBuilder(good.ConnectionString) { Database = "no_such_database_" + Guid.NewGuid().ToString("N")[..8] }.ConnectionString);
        var host = await harness.StartHostAsync("relay-1", o => o.Databases.Add(missing));
        var health = FleetHarness.MonitorOf(host).CheckHealth();
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Contains("gone", health.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resolving_PollingRelayMonitor_with_many_databases_is_refused_pointing_at_OutboxFleetMonitor()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var database = await FleetHarness.CreateDatabaseAsync(await SharedInfrastructure.PostgresAsync(), "m");
        var host = await harness.StartHostAsync("relay-1", o => o.Databases.Add(database));
        var error = Assert.Throws<OutboxConfigurationException>(() => host.Services.GetRequiredService<PollingRelayMonitor>());
        Assert.Contains("OutboxFleetMonitor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resolving_CdcRelayMonitor_with_many_databases_is_refused_pointing_at_OutboxFleetMonitor()
    {
        await using var harness = await FleetHarness.CreateAsync(output);
        var host = await harness.StartHostAsync("cdc-1", o => o.Add("nowhere", "Host=127.0.0.1;Port=1;Database=x;Timeout=1"), cdc: true);
        var error = Assert.Throws<OutboxConfigurationException>(() => host.Services.GetRequiredService<CdcRelayMonitor>());
        Assert.Contains("OutboxFleetMonitor", error.Message, StringComparison.Ordinal);
        Assert.Contains("nowhere", FleetHarness.MonitorOf(host).CheckHealth().Description, StringComparison.Ordinal);
    }

    [Fact]
    public void UsePostgreSql_and_UsePostgreSqlDatabases_together_are_refused_in_either_order()
    {
        var one = Assert.Throws<OutboxConfigurationException>(() =>
            new ServiceCollection().AddOutbox().UsePostgreSql("Host=a").UsePostgreSqlDatabases(o => o.Add("x", "Host=b")));
        var other = Assert.Throws<OutboxConfigurationException>(() =>
            new ServiceCollection().AddOutbox().UsePostgreSqlDatabases(o => o.Add("x", "Host=b")).UsePostgreSql("Host=a"));
        Assert.Equal(one.Message, other.Message);
        Assert.Contains("UsePostgreSqlDatabases", one.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("semi;colon")]
    [InlineData("ünï")]
    public void A_database_name_other_than_letters_digits_dash_dot_and_underscore_is_refused(string name)
    {
        var error = Assert.Throws<OutboxConfigurationException>(() => new OutboxDatabase(name, "Host=a"));
        Assert.Contains("name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_connection_string_is_refused_naming_the_database_without_its_password()
    {
        var error = Assert.Throws<OutboxConfigurationException>(() => new OutboxDatabase("tenant-7", "Host=a;Password=s3cret;Bogus Key=1"));
        Assert.Contains("tenant-7", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
        Assert.Equal("tenant-7", new OutboxDatabase("tenant-7", "Host=a;Password=s3cret").ToString());
    }

    [Fact]
    public void An_OutboxDatabaseSet_refuses_a_name_twice_and_replaces_a_changed_connection_string()
    {
        Assert.Throws<OutboxConfigurationException>(() => new OutboxDatabaseSet([new("a", "Host=x"), new("a", "Host=y")]));
        var set = new OutboxDatabaseSet([new("a", "Host=x")]);
        Assert.False(set.Add(new("a", "Host=x")));
        Assert.True(set.Add(new("a", "Host=y")));
        Assert.Equal("Host=y", Assert.Single(set.Databases).ConnectionString);
        Assert.True(set.Remove("a"));
        Assert.False(set.Remove("a"));
    }

    [Theory]
    [InlineData("none", "has no database")]
    [InlineData("duplicate", "given 2 times")]
    [InlineData("refresh", "RefreshInterval")]
    [InlineData("pool", "MaxPoolSizePerDatabase")]
    [InlineData("listen", "MaxListeningDatabases")]
    [InlineData("drains", "MaxConcurrentDrainCycles")]
    [InlineData("debezium", "UseDebezium()")]
    public async Task Bad_options_fail_the_host_start_naming_the_problem(string problem, string expected)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var outbox = builder.Services.AddOutbox().UsePostgreSqlDatabases(o =>
        {
            if (problem != "none")
            {
                o.Add("a", "Host=localhost");
            }

            if (problem == "duplicate")
            {
                o.Add("a", "Host=elsewhere");
            }

            o.RefreshInterval = problem == "refresh" ? TimeSpan.FromMilliseconds(10) : o.RefreshInterval;
            o.MaxPoolSizePerDatabase = problem == "pool" ? 1 : o.MaxPoolSizePerDatabase;
            o.MaxListeningDatabases = problem == "listen" ? -1 : o.MaxListeningDatabases;
            o.MaxConcurrentDrainCycles = problem == "drains" ? 0 : o.MaxConcurrentDrainCycles;
        });
        if (problem == "debezium")
        {
            outbox.UseDebezium();
        }

        using var host = builder.Build();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
