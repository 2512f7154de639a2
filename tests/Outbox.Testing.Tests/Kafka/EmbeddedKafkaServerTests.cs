using System.Diagnostics;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>Lifecycle of embedded clusters, and what the other kinds refuse.</summary>
public sealed class EmbeddedKafkaServerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    private KafkaServerOptions Embedded(int brokers = 3) =>
        new() { Kind = KafkaServerKind.Embedded, Brokers = brokers, Log = TestOutputLog.For(output) };

    [Fact]
    public async Task Several_embedded_clusters_run_side_by_side_and_dispose_independently()
    {
        var clock = Stopwatch.StartNew();
        var first = await KafkaServer.StartAsync(Embedded());
        output.WriteLine($"first cluster in {clock.Elapsed.TotalMilliseconds:0.0} ms");
        await using var second = await KafkaServer.StartAsync(Embedded(brokers: 1));

        Assert.Equal(KafkaServerKind.Embedded, first.Kind);
        Assert.Equal(3, first.Brokers);
        Assert.Equal(3, first.BootstrapServers.Split(',').Length);
        Assert.Equal(1, second.Brokers);
        Assert.Empty(first.BootstrapServers.Split(',').Intersect(second.BootstrapServers.Split(',')));

        await ProduceOneAsync(first.BootstrapServers, "side-by-side");
        await first.DisposeAsync();
        await first.DisposeAsync();

        await ProduceOneAsync(second.BootstrapServers, "side-by-side");
        Assert.Throws<ObjectDisposedException>(() => first.SetBrokerDown(1));
        Assert.Throws<ObjectDisposedException>(() => first.CreateTopic("late", 1));
    }

    [Fact]
    public async Task Producers_auto_create_topics_and_CreateTopic_rejects_a_duplicate()
    {
        await using var kafka = await KafkaServer.StartAsync(Embedded());
        await ProduceOneAsync(kafka.BootstrapServers, "auto-created");

        kafka.CreateTopic("explicit", partitions: 2, replicationFactor: 3);
        var duplicate = Assert.Throws<KafkaException>(() => kafka.CreateTopic("explicit", partitions: 2));
        Assert.Equal(ErrorCode.TopicAlreadyExists, duplicate.Error.Code);
        Assert.Throws<ArgumentOutOfRangeException>(() => kafka.CreateTopic("too-replicated", 1, replicationFactor: 4));
    }

    [Fact]
    public async Task Brokers_named_by_the_environment_are_used_as_they_are_and_refuse_fault_injection()
    {
        await using var real = await KafkaServer.StartAsync(Embedded());
        var environment = new Dictionary<string, string?> { [KafkaServer.EnvironmentVariable] = real.BootstrapServers };

        await using var kafka = await KafkaServer.StartCoreAsync(
            new KafkaServerOptions { Log = TestOutputLog.For(output) }, name => environment.GetValueOrDefault(name), CancellationToken.None);

        Assert.Equal(KafkaServerKind.Environment, kafka.Kind);
        Assert.Equal(real.BootstrapServers, kafka.BootstrapServers);
        Assert.Equal(3, kafka.Brokers);
        await ProduceOneAsync(kafka.BootstrapServers, "through-the-environment");

        var notSupported = new Action[]
        {
            () => kafka.CreateTopic("t", 1),
            () => kafka.SetBrokerDown(1),
            () => kafka.SetBrokerUp(1),
            kafka.SetAllBrokersDown,
            kafka.SetAllBrokersUp,
            () => kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.RequestTimedOut),
            () => kafka.ClearRequestErrors(KafkaApiKey.Produce),
            () => kafka.SetRtt(1, TimeSpan.FromMilliseconds(10)),
        };
        foreach (var call in notSupported)
        {
            var exception = Assert.Throws<NotSupportedException>(call);
            Assert.Contains("Environment", exception.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Environment_kind_without_the_variable_fails_clearly()
    {
        var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => KafkaServer.StartCoreAsync(
            new KafkaServerOptions { Kind = KafkaServerKind.Environment }, _ => null, CancellationToken.None));
        Assert.Contains(KafkaServer.EnvironmentVariable, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_consumer_group_of_two_members_shares_the_partitions()
    {
        await using var kafka = await KafkaServer.StartAsync(Embedded());
        var topic = "group-" + Guid.NewGuid().ToString("N");
        kafka.CreateTopic(topic, partitions: 4);
        var config = KafkaTestClients.GroupConsumer(kafka.BootstrapServers);
        using var first = KafkaTestClients.BuildConsumer<Ignore, Ignore>(config);
        using var second = KafkaTestClients.BuildConsumer<Ignore, Ignore>(config);
        first.Subscribe(topic);
        second.Subscribe(topic);

        await Eventually.TrueAsync(
            () =>
            {
                first.Consume(TimeSpan.FromMilliseconds(100));
                second.Consume(TimeSpan.FromMilliseconds(100));
                return first.Assignment.Count == 2 && second.Assignment.Count == 2;
            },
            "both members own two partitions each",
            s_generous);

        Assert.Empty(first.Assignment.Intersect(second.Assignment));
        first.Close();
        second.Close();
    }

    private static async Task ProduceOneAsync(string bootstrapServers, string topic)
    {
        using var producer = KafkaTestClients.BuildProducer(KafkaTestClients.IdempotentProducer(bootstrapServers));
        var result = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }).WaitAsync(s_generous);
        Assert.Equal(PersistenceStatus.Persisted, result.Status);
    }
}
