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
}
