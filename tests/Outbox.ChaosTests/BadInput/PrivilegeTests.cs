using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.ChaosTests.Infrastructure;
using Outbox.ChaosTests.Model;
using Outbox.ChaosTests.Orchestration;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>
/// Database roles without a privilege the library needs: the error is specific (PostgreSQL's 42501 naming the table),
/// and nothing committed is lost. The CDC relay's missing REPLICATION privilege is covered by
/// <c>CdcRelayConfigurationTests.A_user_without_the_replication_privilege_fails_the_host_start_naming_it</c>.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class PrivilegeTests(BadInputFixture fixture, ITestOutputHelper output)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task A_writer_that_may_not_insert_outbox_rows_fails_SaveChanges_and_commits_nothing()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var role = await CreateRoleAsync(cs, "GRANT SELECT, UPDATE ON chaos.aggregates TO {0}; GRANT INSERT ON chaos.written_1 TO {0}; GRANT SELECT ON outbox.messages TO {0};");
        var outbox = BadInputFixture.UniqueTopic(out _);
        using var writer = Hosts.Build(output, role, fixture.Kafka.BootstrapServers, outbox, _ => { });

        var error = await Assert.ThrowsAnyAsync<Exception>(() => Writes.WriteAsync(writer.Services, "k0001"));
        output.WriteLine(error.ToString());
        var postgres = FindPostgresException(error);
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, postgres.SqlState);
        Assert.Contains("messages", postgres.MessageText, StringComparison.Ordinal);
        await AssertNothingCommittedAsync(cs);
    }

    [Fact]
    public async Task A_writer_that_may_insert_but_not_run_the_commit_trigger_fails_at_commit_and_commits_nothing()
    {
        // The deferred commit trigger runs as the writer: it updates the row it inserted (commit_seq) from the sequence.
        var cs = await fixture.CreateDatabaseAsync();
        var role = await CreateRoleAsync(cs, "GRANT SELECT, UPDATE ON chaos.aggregates TO {0}; GRANT INSERT ON chaos.written_1 TO {0}; GRANT INSERT ON outbox.messages TO {0};");
        var outbox = BadInputFixture.UniqueTopic(out _);
        using var writer = Hosts.Build(output, role, fixture.Kafka.BootstrapServers, outbox, _ => { });

        var error = await Assert.ThrowsAnyAsync<Exception>(() => Writes.WriteAsync(writer.Services, "k0001"));
        output.WriteLine(error.ToString());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, FindPostgresException(error).SqlState);
        Assert.Contains("CommitAsync", error.StackTrace, StringComparison.Ordinal);
        await AssertNothingCommittedAsync(cs);
    }

    [Fact]
    public async Task A_polling_relay_that_may_not_take_lanes_publishes_nothing_keeps_every_row_and_catches_up_once_granted()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var outbox = BadInputFixture.UniqueTopic(out var topic);
        fixture.Kafka.CreateTopic(topic, 3);
        var events = await WriteAsSuperuserAsync(cs, outbox, 5);
        var role = await CreateRoleAsync(cs, "GRANT SELECT, UPDATE, DELETE ON outbox.messages TO {0}; GRANT SELECT ON outbox.lanes TO {0}; GRANT ALL ON outbox.lanes_instances, outbox.dead_letters, outbox.messages_parked TO {0};");
        var capture = new LogCapture();
        using var relay = Hosts.Build(output, role, fixture.Kafka.BootstrapServers, outbox, o => o.AddPollingRelay(Fast), capture: capture);
        await relay.StartAsync();

        await Eventually.TrueAsync(() => Task.FromResult(capture.Count(l => l.Text.Contains("42501", StringComparison.Ordinal)) >= 3), "the relay reports the missing privilege, again and again");
        Assert.Contains(capture.Lines, l => l.Text.Contains("permission denied for table lanes", StringComparison.Ordinal));
        Assert.Equal(0, TopicReader.Count(fixture.Kafka.BootstrapServers, topic));
        Assert.Equal(5, await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages"));

        await ExecuteAsync(cs, $"GRANT INSERT, UPDATE ON outbox.lanes TO \"{Username(role)}\"");
        await Eventually.TrueAsync(async () => await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages") == 0, "the relay publishes everything once it may");
        await relay.StopAsync();
        Assert.Equal(events.Select(e => e.ChaosId).Order(), ReadTopic(topic).Select(e => e.ChaosId).Distinct().Order());
    }

    [Fact]
    public async Task A_polling_relay_that_may_not_delete_published_rows_publishes_them_again_and_again_but_loses_none()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var outbox = BadInputFixture.UniqueTopic(out var topic);
        fixture.Kafka.CreateTopic(topic, 3);
        var events = await WriteAsSuperuserAsync(cs, outbox, 3);
        var role = await CreateRoleAsync(cs, "GRANT SELECT, UPDATE ON outbox.messages TO {0}; GRANT ALL ON outbox.lanes, outbox.lanes_instances, outbox.dead_letters, outbox.messages_parked TO {0};");
        var capture = new LogCapture();
        using var relay = Hosts.Build(output, role, fixture.Kafka.BootstrapServers, outbox, o => o.AddPollingRelay(Fast), capture: capture);
        await relay.StartAsync();

        // Published, but the completion (DELETE) fails: the rows stay and are published again after a backoff.
        await Eventually.TrueAsync(() => Task.FromResult(ReadTopic(topic).Count >= 3 * events.Count), "the rows are published again after failed completions");
        Assert.Contains(capture.Lines, l => l.Text.Contains("permission denied for table messages", StringComparison.Ordinal));
        Assert.Equal(3, await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages"));

        await ExecuteAsync(cs, $"GRANT DELETE ON outbox.messages TO \"{Username(role)}\"");
        await Eventually.TrueAsync(async () => await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages") == 0, "the rows are removed once the relay may");
        await relay.StopAsync();
        var records = ReadTopic(topic);
        output.WriteLine($"{records.Count} records for {events.Count} events");
        Assert.Equal(events.Select(e => e.ChaosId).Order(), records.Select(e => e.ChaosId).Distinct().Order());
        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM outbox.dead_letters"));
    }

    [Fact]
    public async Task A_consumer_that_may_not_write_the_inbox_retries_without_dead_lettering_and_takes_effect_once_when_granted()
    {
        var cs = await fixture.CreateDatabaseAsync();
        var outbox = BadInputFixture.UniqueTopic(out var topic);
        fixture.Kafka.CreateTopic(topic, 1);
        fixture.Kafka.CreateTopic(topic + ".dlq", 1);
        var events = Enumerable.Range(1, 3).Select(v => new ChaosEvent(Guid.NewGuid(), "k0001", v, 1, "")).ToList();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = fixture.Kafka.BootstrapServers }).Build())
        {
            foreach (var e in events)
            {
                await producer.ProduceAsync(topic, new Message<string, byte[]>
                {
                    Key = e.Key,
                    Value = JsonSerializer.SerializeToUtf8Bytes(e, Json),
                    Headers = [new Header("id", Encoding.UTF8.GetBytes(Guid.NewGuid().ToString())), new Header("type", Encoding.UTF8.GetBytes(nameof(ChaosEvent)))],
                });
            }
        }

        var role = await CreateRoleAsync(cs, "GRANT ALL ON ALL TABLES IN SCHEMA chaos TO {0}; GRANT SELECT ON outbox.inbox TO {0}; GRANT ALL ON outbox.inbox_offsets, outbox.inbox_parked TO {0};");
        var capture = new LogCapture();
        using var consumer = Hosts.Build(output, role, fixture.Kafka.BootstrapServers, outbox,
            o => o.AddConsumer<ChaosDb>("no-inbox", c => c.Subscribe<ChaosEvent, EffectHandler>().Configure(x => x.MaxRetryDelay = TimeSpan.FromMilliseconds(500))),
            capture: capture);
        await consumer.StartAsync();

        // The inbox insert fails before any handler runs: not the record's fault, so no attempt is counted and nothing is dead-lettered.
        await Eventually.TrueAsync(() => Task.FromResult(capture.Count(l => l.Text.Contains("permission denied for table inbox", StringComparison.Ordinal)) >= 5), "the consumer reports the missing privilege while it retries");
        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM chaos.effects"));
        Assert.Equal(0, TopicReader.Count(fixture.Kafka.BootstrapServers, topic + ".dlq"));

        await ExecuteAsync(cs, $"GRANT INSERT ON outbox.inbox TO \"{Username(role)}\"");
        await Eventually.TrueAsync(async () => await ScalarAsync(cs, "SELECT count(*) FROM chaos.effects") == 3, "every event takes effect once the consumer may write the inbox");
        await consumer.StopAsync();
        Assert.Equal(3, await ScalarAsync(cs, "SELECT sum(count) FROM chaos.effects"));
        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM chaos.sequence_violations"));
        Assert.Equal(0, TopicReader.Count(fixture.Kafka.BootstrapServers, topic + ".dlq"));
    }

    private static void Fast(Outbox.PollingRelayOptions o)
    {
        o.LeaseDuration = TimeSpan.FromSeconds(3);
        o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
        o.PollInterval = TimeSpan.FromMilliseconds(100);
        o.InitialRetryDelay = TimeSpan.FromMilliseconds(50);
        o.MaxRetryDelay = TimeSpan.FromMilliseconds(500);
    }

    private async Task<List<ChaosEvent>> WriteAsSuperuserAsync(string cs, Action<OutboxOptions> outbox, int count)
    {
        using var writer = Hosts.Build(output, cs, fixture.Kafka.BootstrapServers, outbox, _ => { });
        var events = new List<ChaosEvent>();
        for (var i = 0; i < count; i++)
        {
            events.Add(await Writes.WriteAsync(writer.Services, Model.ChaosSchema.Key(i % 3)));
        }

        return events;
    }

    private List<ChaosEvent> ReadTopic(string topic) =>
        TopicReader.Read(fixture.Kafka.BootstrapServers, topic, TimeSpan.FromSeconds(60)).Records
            .Select(r => JsonSerializer.Deserialize<ChaosEvent>(r.Value!, Json)!)
            .ToList();

    /// <summary>A login role with a password (so it works with password authentication too) and the given grants.</summary>
    private static async Task<string> CreateRoleAsync(string cs, string grants)
    {
        var role = "r_" + Guid.NewGuid().ToString("N")[..12];
        var database = new NpgsqlConnectionStringBuilder(cs).Database;
        await ExecuteAsync(cs, string.Format(CultureInfo.InvariantCulture,
            "CREATE ROLE {0} LOGIN PASSWORD 'pw'; GRANT CONNECT ON DATABASE \"" + database + "\" TO {0}; GRANT USAGE ON SCHEMA outbox, chaos TO {0}; " + grants,
            role));
        return new NpgsqlConnectionStringBuilder(cs) { Username = role, Password = "pw" }.ConnectionString;
    }

    private static string Username(string cs) => new NpgsqlConnectionStringBuilder(cs).Username!;

    private static PostgresException FindPostgresException(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is PostgresException postgres)
            {
                return postgres;
            }
        }

        throw new Xunit.Sdk.XunitException($"no PostgresException in {error}");
    }

    private static async Task AssertNothingCommittedAsync(string cs)
    {
        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM outbox.messages"));
        Assert.Equal(0, await ScalarAsync(cs, "SELECT count(*) FROM chaos.written_1"));
        Assert.Equal(0, await ScalarAsync(cs, "SELECT coalesce(sum(version), 0) FROM chaos.aggregates"));
    }

    private static async Task ExecuteAsync(string cs, string sql)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(string cs, string sql)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
