using Confluent.Kafka;
using Outbox.Kafka;
using Outbox.Kafka.Consuming;

namespace Outbox.Kafka.Tests.Consuming;

public sealed class ConsumerClientConfigTests
{
    [Fact]
    public void The_dead_letter_producer_waits_30_seconds_for_an_acknowledgement_unless_the_producer_settings_say_otherwise()
    {
        Assert.Equal(30_000, ConsumerClientConfig.CreateDeadLetterProducer(new KafkaOptions()).MessageTimeoutMs);

        var options = new KafkaOptions();
        options.Producer.MessageTimeoutMs = 5_000;
        Assert.Equal(5_000, ConsumerClientConfig.CreateDeadLetterProducer(options).MessageTimeoutMs);
    }

    [Fact]
    public void The_inbox_consumer_reads_committed_records_only_unless_the_consumer_settings_say_otherwise()
    {
        Assert.Equal(IsolationLevel.ReadCommitted, ConsumerClientConfig.CreateConsumer(new KafkaOptions(), "group").IsolationLevel);
        Assert.Equal("read_committed", ConsumerClientConfig.CreateConsumer(new KafkaOptions(), "group").Get("isolation.level"));

        var options = new KafkaOptions();
        options.Consumer.IsolationLevel = IsolationLevel.ReadUncommitted;
        Assert.Equal(IsolationLevel.ReadUncommitted, ConsumerClientConfig.CreateConsumer(options, "group").IsolationLevel);
    }
}
