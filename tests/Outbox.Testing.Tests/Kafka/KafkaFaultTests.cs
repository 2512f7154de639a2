using System.Diagnostics;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>Fault injection on embedded clusters of their own (faults must not leak into other tests).</summary>
public sealed class KafkaFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);
    private KafkaServer _kafka = null!;

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        _kafka = await KafkaServer.StartAsync(new KafkaServerOptions { Kind = KafkaServerKind.Embedded, Log = TestOutputLog.For(output) });
        output.WriteLine($"embedded cluster started in {clock.Elapsed.TotalMilliseconds:0.0} ms");
    }

    public async Task DisposeAsync() => await _kafka.DisposeAsync();

    [Fact]
    public async Task Two_of_three_brokers_down_during_production_then_up_delivers_everything_once()
    {
        const int keys = 60;
        const int perPhase = 1_500;
        var topic = "faults-" + Guid.NewGuid().ToString("N");
        _kafka.CreateTopic(topic, partitions: 6);
        var leaders = PartitionLeaders(topic);
        Assert.Contains(1, leaders.Values);
        Assert.Contains(leaders.Values, leader => leader != 1);

        var tracker = new KafkaTestClients.DeliveryTracker();
        var producedPerKey = new Dictionary<string, int>();
        using var producer = KafkaTestClients.BuildProducer(KafkaTestClients.IdempotentProducer(_kafka.BootstrapServers));
        void Produce(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var key = "key-" + (i % keys);
                var sequence = producedPerKey.GetValueOrDefault(key);
                producedPerKey[key] = sequence + 1;
                producer.Produce(topic, new Message<string, string> { Key = key, Value = $"{key}:{sequence}" }, tracker.Handle);
            }
        }

        Produce(perPhase);
        await Eventually.TrueAsync(() => tracker.Delivered == perPhase, "the first phase is delivered", s_generous);
        Assert.Equal(leaders.Count, tracker.PartitionOfKey.Values.Distinct().Count());

        _kafka.SetBrokerDown(2);
        _kafka.SetBrokerDown(3);
        Produce(perPhase);

        // Keys whose partition broker 1 leads keep flowing; the others must wait for their leaders.
        var healthyKeys = tracker.PartitionOfKey.Where(pair => leaders[pair.Value] == 1).Select(pair => pair.Key).ToHashSet();
        var healthyInSecondPhase = Enumerable.Range(0, perPhase).Count(i => healthyKeys.Contains("key-" + (i % keys)));
        await Eventually.TrueAsync(
            () => tracker.Delivered >= perPhase + healthyInSecondPhase, "broker 1's partitions have their messages", s_generous);
        Assert.Equal(perPhase + healthyInSecondPhase, tracker.Delivered);
        output.WriteLine($"while two brokers were down: {healthyInSecondPhase} delivered, {perPhase - healthyInSecondPhase} waiting");

        _kafka.SetBrokerUp(2);
        _kafka.SetBrokerUp(3);
        await Eventually.TrueAsync(() => tracker.Delivered + tracker.Errors.Count >= 2 * perPhase, "every delivery report is in", s_generous);
        Assert.Empty(tracker.Errors);

        var consumed = await KafkaTestClients.ConsumeAsync(_kafka.BootstrapServers, topic, 2 * perPhase, s_generous);
        KafkaTestClients.AssertExactlyOnceInKeyOrder(producedPerKey, consumed);
    }

    [Fact]
    public async Task All_brokers_down_longer_than_the_message_timeout_fails_deliveries_with_a_timeout()
    {
        var topic = "timeouts-" + Guid.NewGuid().ToString("N");
        _kafka.CreateTopic(topic, partitions: 3);
        var config = KafkaTestClients.IdempotentProducer(_kafka.BootstrapServers);
        config.MessageTimeoutMs = 3_000;
        using var producer = KafkaTestClients.BuildProducer(config);
        var first = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "before" });
        Assert.Equal(PersistenceStatus.Persisted, first.Status);

        _kafka.SetAllBrokersDown();
        var clock = Stopwatch.StartNew();
        var attempts = Enumerable.Range(0, 10)
            .Select(i => producer.ProduceAsync(topic, new Message<string, string> { Key = "k" + i, Value = "while down" }))
            .ToList();
        var failures = new List<ProduceException<string, string>>();
        foreach (var attempt in attempts)
        {
            failures.Add(await Assert.ThrowsAsync<ProduceException<string, string>>(() => attempt.WaitAsync(s_generous)));
        }

        output.WriteLine($"deliveries failed after {clock.ElapsedMilliseconds} ms: {failures[0].Error.Reason}");
        Assert.All(failures, failure => Assert.Equal(ErrorCode.Local_MsgTimedOut, failure.Error.Code));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2.5), $"failed after only {clock.ElapsedMilliseconds} ms");

        _kafka.SetAllBrokersUp();
        var after = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "after" }).WaitAsync(s_generous);
        Assert.Equal(PersistenceStatus.Persisted, after.Status);
    }

    [Fact]
    public async Task Pushed_produce_errors_are_retried_and_the_message_arrives_once()
    {
        var topic = "errors-" + Guid.NewGuid().ToString("N");
        _kafka.CreateTopic(topic, partitions: 1);
        using var producer = KafkaTestClients.BuildProducer(KafkaTestClients.IdempotentProducer(_kafka.BootstrapServers));
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "k:0" });

        _kafka.PushRequestErrors(KafkaApiKey.Produce, ErrorCode.NotEnoughReplicas, ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicas);
        var result = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "k:1" }).WaitAsync(s_generous);

        Assert.Equal(PersistenceStatus.Persisted, result.Status);
        var consumed = await KafkaTestClients.ConsumeAsync(_kafka.BootstrapServers, topic, 2, s_generous);
        KafkaTestClients.AssertExactlyOnceInKeyOrder(new Dictionary<string, int> { ["k"] = 2 }, consumed);
    }

    [Fact]
    public async Task SetRtt_slows_the_broker_down()
    {
        var topic = "rtt-" + Guid.NewGuid().ToString("N");
        _kafka.CreateTopic(topic, partitions: 1);
        var leader = PartitionLeaders(topic)[0];
        using var producer = KafkaTestClients.BuildProducer(KafkaTestClients.IdempotentProducer(_kafka.BootstrapServers));
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "warm-up" });

        _kafka.SetRtt(leader, TimeSpan.FromMilliseconds(600));
        var clock = Stopwatch.StartNew();
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "slow" }).WaitAsync(s_generous);
        output.WriteLine($"produce with 600 ms RTT took {clock.ElapsedMilliseconds} ms");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(500), $"took only {clock.ElapsedMilliseconds} ms");

        _kafka.SetRtt(leader, TimeSpan.Zero);
    }

    [Fact]
    public void Fault_injection_rejects_unknown_brokers()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _kafka.SetBrokerDown(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _kafka.SetBrokerUp(_kafka.Brokers + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _kafka.SetRtt(1, TimeSpan.FromMilliseconds(-1)));
        Assert.Throws<ArgumentException>(() => _kafka.PushRequestErrors(KafkaApiKey.Produce));
    }

    private Dictionary<int, int> PartitionLeaders(string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _kafka.BootstrapServers }).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(30));
        return metadata.Topics.Single().Partitions.ToDictionary(p => p.PartitionId, p => p.Leader);
    }
}
