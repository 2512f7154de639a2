using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Outbox.ChaosTests.Model;
using Outbox.Kafka;
using Outbox.PostgreSql;
using Outbox.Relay;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.BadInput;

/// <summary>
/// Invalid settings given through the public API fail the host start (before any hosted service runs) with a message
/// that names the setting. The option validators themselves have unit tests (OutboxOptionsValidationTests,
/// PollingRelayOptionsValidationTests, KafkaOptionsValidationTests, ConsumerStartupTests, CdcRelayConfigurationTests);
/// these check every negative interval and hostile identifier end to end, through <c>AddOutbox</c> and the host.
/// </summary>
public sealed class InvalidConfigurationTests(ITestOutputHelper output)
{
    // Nothing is contacted: validation fails first.
    private const string Database = "Host=127.0.0.1;Port=1;Database=none;Username=none";
    private const string Brokers = "127.0.0.1:1";
    private const string Password = "hunter2-secret";

    private sealed record DotDotEvent(string Key);

    public static TheoryData<string, string> Cases() => new()
    {
        { "polling PollInterval = -1 s", "PollInterval" },
        { "polling HeartbeatInterval = -1 s", "HeartbeatInterval" },
        { "polling LeaseDuration = -1 s", "LeaseDuration" },
        { "polling InitialRetryDelay = -1 ms", "InitialRetryDelay" },
        { "polling MaxRetryDelay = -1 s", "MaxRetryDelay" },
        { "polling CleanupInterval = -1 s", "CleanupInterval" },
        { "polling PublishedRetention = -1 min", "PublishedRetention" },
        { "polling MaxBatchSize = 0", "MaxBatchSize" },
        { "polling MaxConcurrentLanes = -1", "MaxConcurrentLanes" },
        { "polling MaxAttempts = 0", "MaxAttempts" },
        { "polling InstanceId = blank", "InstanceId" },
        { "cdc AcknowledgeInterval = -1 s", "AcknowledgeInterval" },
        { "cdc ReplicationTimeout = 0", "ReplicationTimeout" },
        { "cdc StandbyPollInterval = -1 s", "StandbyPollInterval" },
        { "cdc InitialRetryDelay = -1 ms", "InitialRetryDelay" },
        { "cdc ShutdownTimeout = -1 s", "ShutdownTimeout" },
        { "cdc MaxBatchSize = 0", "MaxBatchSize" },
        { "cdc MaxAttempts = 0", "MaxAttempts" },
        { "cdc SlotName = hostile", "SlotName" },
        { "cdc PublicationName = hostile", "PublicationName" },
        { "consumer InitialRetryDelay = -1 s", "InitialRetryDelay" },
        { "consumer MaxRetryDelay = -1 s", "MaxRetryDelay" },
        { "consumer ShutdownTimeout = -1 s", "ShutdownTimeout" },
        { "consumer InboxRetention = -1 day", "InboxRetention" },
        { "consumer CleanupInterval = 0", "CleanupInterval" },
        { "consumer MaxBatchSize = 0", "MaxBatchSize" },
        { "consumer MaxConcurrency = 0", "MaxConcurrency" },
        { "consumer MaxAttempts = -1", "MaxAttempts" },
        { "consumer DeadLetterTopicTemplate = hostile", "DeadLetterTopicTemplate" },
        { "consumer DeadLetterTopicTemplate = without {topic}", "DeadLetterTopicTemplate" },
        { "kafka BootstrapServers = empty", "BootstrapServers" },
        { "kafka BootstrapServers = blank", "BootstrapServers" },
        { "kafka BootstrapServers = not a broker list;;;", "BootstrapServers" },
        { "kafka BootstrapServers = localhost:notaport", "BootstrapServers" },
        { "kafka BootstrapServers = http://broker:9092", "BootstrapServers" },
        { "kafka BootstrapServers = ,,,", "BootstrapServers" },
        { "kafka FlushTimeout = -1 s", "FlushTimeout" },
        { "kafka Producer.EnableIdempotence = false", "EnableIdempotence" },
        { "kafka Producer.Acks = Leader", "Acks" },
        { "outbox Schema = hostile", "Schema" },
        { "outbox MessagesTable = empty", "MessagesTable" },
        { "outbox InboxTable = hostile", "InboxTable" },
        { "outbox LaneCount = -1", "LaneCount" },
        { "outbox MaxPayloadBytes = -1", "MaxPayloadBytes" },
        { "outbox TopicTemplate = hostile", "TopicTemplate" },
        { "outbox MessagesTable = 63 characters", "MessagesTable" },
        { "outbox MessagesTable = 53 characters", "MessagesTable" },
        { "outbox Schema + MessagesTable = 64 bytes", "Schema and OutboxOptions.MessagesTable" },
        { "outbox Schema = trailing newline", "Schema" },
        { "outbox TopicTemplate = {aggregatetype} with aggregate type ..", "TopicTemplate" },
        { "consumer DeadLetterTopicTemplate = {topic}.dlq of a 249-character topic", "DeadLetterTopicTemplate" },
        { "postgres ConnectionString = empty", "ConnectionString" },
        { "postgres ConnectionString = bad port", "ConnectionString" },
        { "postgres ConnectionString = unparsable", "ConnectionString" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task An_invalid_setting_fails_the_host_start_naming_it(string setting, string named)
    {
        using var host = Build(setting);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        output.WriteLine($"{setting}: {error.GetType().Name}: {error.Message}");
        Assert.True(error is OptionsValidationException or OutboxConfigurationException, $"unexpected {error.GetType().Name}: {error}");
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    private static IHost Build(string setting)
    {
        var (area, assignment) = (setting[..setting.IndexOf(' ', StringComparison.Ordinal)], setting[(setting.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddDbContext<ChaosDb>((sp, db) => db.UseNpgsql(Database).UseOutbox(sp));
        var outbox = builder.Services
            .AddOutbox(o =>
            {
                ChaosEvent.Map(o);
                if (setting.EndsWith("249-character topic", StringComparison.Ordinal))
                {
                    o.TopicTemplate = new string('t', 249 - ChaosEvent.AggregateType.Length) + OutboxOptions.AggregateTypePlaceholder;
                }

                if (area == "outbox")
                {
                    Apply(o, assignment);
                }
            })
            .UsePostgreSql(assignment switch
            {
                "ConnectionString = empty" => "",
                "ConnectionString = bad port" => $"Host=127.0.0.1;Port=notaport;Username=app;Password={Password}",
                "ConnectionString = unparsable" => $"Host=127.0.0.1;Username=app;Password={Password};garbage",
                _ => Database,
            })
            .UseKafka(k =>
            {
                k.BootstrapServers = Brokers;
                if (area == "kafka")
                {
                    Apply(k, assignment);
                }
            });
        _ = area switch
        {
            "cdc" => outbox.AddCdcRelay(o => Apply(o, assignment)),
            "consumer" => outbox.AddConsumer<ChaosDb>("g", c => c.Subscribe<ChaosEvent, EffectHandler>().Configure(o => Apply(o, assignment))),
            _ => outbox.AddPollingRelay(o =>
            {
                if (area == "polling")
                {
                    Apply(o, assignment);
                }
            }),
        };
        return builder.Build();
    }

    private static void Apply(object options, string assignment)
    {
        var minus1 = TimeSpan.FromSeconds(-1);
        switch (options, assignment)
        {
            case (PollingRelayOptions o, "PollInterval = -1 s"): o.PollInterval = minus1; break;
            case (PollingRelayOptions o, "HeartbeatInterval = -1 s"): o.HeartbeatInterval = minus1; break;
            case (PollingRelayOptions o, "LeaseDuration = -1 s"): o.LeaseDuration = minus1; break;
            case (PollingRelayOptions o, "InitialRetryDelay = -1 ms"): o.InitialRetryDelay = TimeSpan.FromMilliseconds(-1); break;
            case (PollingRelayOptions o, "MaxRetryDelay = -1 s"): o.MaxRetryDelay = minus1; break;
            case (PollingRelayOptions o, "CleanupInterval = -1 s"): o.CleanupInterval = minus1; break;
            case (PollingRelayOptions o, "PublishedRetention = -1 min"): o.PublishedRetention = TimeSpan.FromMinutes(-1); break;
            case (PollingRelayOptions o, "MaxBatchSize = 0"): o.MaxBatchSize = 0; break;
            case (PollingRelayOptions o, "MaxConcurrentLanes = -1"): o.MaxConcurrentLanes = -1; break;
            case (PollingRelayOptions o, "MaxAttempts = 0"): o.MaxAttempts = 0; break;
            case (PollingRelayOptions o, "InstanceId = blank"): o.InstanceId = "   "; break;
            case (CdcRelayOptions o, "AcknowledgeInterval = -1 s"): o.AcknowledgeInterval = minus1; break;
            case (CdcRelayOptions o, "ReplicationTimeout = 0"): o.ReplicationTimeout = TimeSpan.Zero; break;
            case (CdcRelayOptions o, "StandbyPollInterval = -1 s"): o.StandbyPollInterval = minus1; break;
            case (CdcRelayOptions o, "InitialRetryDelay = -1 ms"): o.InitialRetryDelay = TimeSpan.FromMilliseconds(-1); break;
            case (CdcRelayOptions o, "ShutdownTimeout = -1 s"): o.ShutdownTimeout = minus1; break;
            case (CdcRelayOptions o, "MaxBatchSize = 0"): o.MaxBatchSize = 0; break;
            case (CdcRelayOptions o, "MaxAttempts = 0"): o.MaxAttempts = 0; break;
            case (CdcRelayOptions o, "SlotName = hostile"): o.SlotName = "outbox'; SELECT pg_drop_replication_slot('x'); --"; break;
            case (CdcRelayOptions o, "PublicationName = hostile"): o.PublicationName = "pub\"; DROP TABLE outbox.messages; --"; break;
            case (InboxConsumerOptions o, "InitialRetryDelay = -1 s"): o.InitialRetryDelay = minus1; break;
            case (InboxConsumerOptions o, "MaxRetryDelay = -1 s"): o.MaxRetryDelay = minus1; break;
            case (InboxConsumerOptions o, "ShutdownTimeout = -1 s"): o.ShutdownTimeout = minus1; break;
            case (InboxConsumerOptions o, "InboxRetention = -1 day"): o.InboxRetention = TimeSpan.FromDays(-1); break;
            case (InboxConsumerOptions o, "CleanupInterval = 0"): o.CleanupInterval = TimeSpan.Zero; break;
            case (InboxConsumerOptions o, "MaxBatchSize = 0"): o.MaxBatchSize = 0; break;
            case (InboxConsumerOptions o, "MaxConcurrency = 0"): o.MaxConcurrency = 0; break;
            case (InboxConsumerOptions o, "MaxAttempts = -1"): o.MaxAttempts = -1; break;
            case (InboxConsumerOptions o, "DeadLetterTopicTemplate = hostile"): o.DeadLetterTopicTemplate = "{topic}; rm -rf /"; break;
            case (InboxConsumerOptions o, "DeadLetterTopicTemplate = without {topic}"): o.DeadLetterTopicTemplate = "all-dead-letters"; break;
            case (KafkaOptions o, "BootstrapServers = empty"): o.BootstrapServers = ""; break;
            case (KafkaOptions o, "BootstrapServers = blank"): o.BootstrapServers = "  \t "; break;
            case (KafkaOptions o, "BootstrapServers = not a broker list;;;"): o.BootstrapServers = "not a broker list;;;"; break;
            case (KafkaOptions o, "BootstrapServers = localhost:notaport"): o.BootstrapServers = "localhost:notaport"; break;
            case (KafkaOptions o, "BootstrapServers = http://broker:9092"): o.BootstrapServers = "http://broker:9092"; break;
            case (KafkaOptions o, "BootstrapServers = ,,,"): o.BootstrapServers = ",,,"; break;
            case (KafkaOptions o, "FlushTimeout = -1 s"): o.FlushTimeout = minus1; break;
            case (KafkaOptions o, "Producer.EnableIdempotence = false"): o.Producer.EnableIdempotence = false; break;
            case (KafkaOptions o, "Producer.Acks = Leader"): o.Producer.Acks = Confluent.Kafka.Acks.Leader; break;
            case (OutboxOptions o, "Schema = hostile"): o.Schema = "outbox; DROP SCHEMA public CASCADE; --"; break;
            case (OutboxOptions o, "MessagesTable = empty"): o.MessagesTable = ""; break;
            case (OutboxOptions o, "InboxTable = hostile"): o.InboxTable = "inbox\" (id int); --"; break;
            case (OutboxOptions o, "LaneCount = -1"): o.LaneCount = -1; break;
            case (OutboxOptions o, "MaxPayloadBytes = -1"): o.MaxPayloadBytes = -1; break;
            case (OutboxOptions o, "TopicTemplate = hostile"): o.TopicTemplate = "../{aggregatetype} evil"; break;
            case (OutboxOptions o, "MessagesTable = 63 characters"): o.MessagesTable = new string('m', 63); break;
            case (OutboxOptions o, "MessagesTable = 53 characters"): o.MessagesTable = new string('m', 53); break;
            case (OutboxOptions o, "Schema + MessagesTable = 64 bytes"): o.Schema = new string('s', 30); o.MessagesTable = new string('m', 33); break;
            case (OutboxOptions o, "Schema = trailing newline"): o.Schema = "outbox\n"; break;
            case (OutboxOptions o, "TopicTemplate = {aggregatetype} with aggregate type .."):
                o.TopicTemplate = OutboxOptions.AggregateTypePlaceholder;
                o.MapEvent<DotDotEvent>("..", e => e.Key);
                break;
            case (InboxConsumerOptions o, "DeadLetterTopicTemplate = {topic}.dlq of a 249-character topic"): o.DeadLetterTopicTemplate = "{topic}.dlq"; break;
            default: throw new ArgumentException($"no case for {options.GetType().Name}: {assignment}");
        }
    }
}
