using Confluent.Kafka;
using Outbox.Kafka;
using Outbox.Kafka.Publishing;

namespace Outbox.Kafka.Tests.Publishing;

public sealed class ProducerConfigFactoryTests
{
    [Fact]
    public void The_defaults_are_an_idempotent_acks_all_producer_with_the_Java_partitioner()
    {
        var config = ProducerConfigFactory.Create(new KafkaOptions { BootstrapServers = "b1:9092,b2:9092" });

        Assert.Equal("b1:9092,b2:9092", config.BootstrapServers);
        Assert.Equal(Acks.All, config.Acks);
        Assert.True(config.EnableIdempotence);
        Assert.Equal(5, config.LingerMs);
        Assert.Equal(Partitioner.Murmur2Random, config.Partitioner);
        Assert.Equal("status", config.DeliveryReportFields);
    }

    [Fact]
    public void Every_producer_setting_given_in_the_options_reaches_librdkafka_and_wins_over_the_defaults()
    {
        var options = new KafkaOptions { BootstrapServers = "ignored:9092" };
        options.Producer.BootstrapServers = "own:9092";
        options.Producer.LingerMs = 1;
        options.Producer.BatchSize = 65536;
        options.Producer.CompressionType = CompressionType.Zstd;
        options.Producer.SecurityProtocol = SecurityProtocol.SaslSsl;
        options.Producer.SaslMechanism = SaslMechanism.ScramSha512;
        options.Producer.SaslUsername = "relay";
        options.Producer.Set("message.max.bytes", "2000000");

        var config = ProducerConfigFactory.Create(options);

        Assert.Equal("own:9092", config.BootstrapServers);
        Assert.Equal(1, config.LingerMs);
        Assert.Equal(65536, config.BatchSize);
        Assert.Equal(CompressionType.Zstd, config.CompressionType);
        Assert.Equal(SecurityProtocol.SaslSsl, config.SecurityProtocol);
        Assert.Equal(SaslMechanism.ScramSha512, config.SaslMechanism);
        Assert.Equal("relay", config.SaslUsername);
        Assert.Equal("2000000", config.Get("message.max.bytes"));
        Assert.True(config.EnableIdempotence);
    }

    [Fact]
    public void A_relay_may_ask_for_another_default_linger_and_the_application_setting_still_wins()
    {
        Assert.Equal(1, ProducerConfigFactory.Create(new KafkaOptions { BootstrapServers = "b:9092" }, defaultLingerMs: 1).LingerMs);

        var options = new KafkaOptions { BootstrapServers = "b:9092" };
        options.Producer.LingerMs = 20;
        Assert.Equal(20, ProducerConfigFactory.Create(options, defaultLingerMs: 1).LingerMs);
    }

    [Fact]
    public void The_producer_is_sized_for_the_largest_payload_the_outbox_accepts_unless_the_application_says_otherwise()
    {
        Assert.Equal(1_048_576 + ProducerConfigFactory.RecordOverheadBytes, ProducerConfigFactory.Create(new KafkaOptions { BootstrapServers = "b:9092" }, maxPayloadBytes: 1_048_576).MessageMaxBytes);
        Assert.Equal(1_000_000, ProducerConfigFactory.Create(new KafkaOptions { BootstrapServers = "b:9092" }, maxPayloadBytes: 1000).MessageMaxBytes);
        var options = new KafkaOptions { BootstrapServers = "b:9092" };
        options.Producer.MessageMaxBytes = 5_000_000;
        Assert.Equal(5_000_000, ProducerConfigFactory.Create(options, maxPayloadBytes: 1_048_576).MessageMaxBytes);
    }

    [Theory]
    [InlineData(null, null, 300_000)]
    [InlineData("2000", null, 2000)]
    [InlineData(null, "1500", 1500)]
    [InlineData("0", null, null)]
    public void The_publisher_takes_the_delivery_time_limit_and_librdkafka_gets_none(string? messageTimeout, string? deliveryTimeout, int? expectedMs)
    {
        var options = new KafkaOptions { BootstrapServers = "b:9092" };
        if (messageTimeout is not null)
        {
            options.Producer.Set("message.timeout.ms", messageTimeout);
        }

        if (deliveryTimeout is not null)
        {
            options.Producer.Set("delivery.timeout.ms", deliveryTimeout);
        }

        var config = ProducerConfigFactory.Create(options);
        var limit = ProducerConfigFactory.TakeDeliveryTimeout(config);

        Assert.Equal(expectedMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, limit);
        Assert.Equal("0", config.Get("message.timeout.ms"));
        Assert.True(config.Get("delivery.timeout.ms") is null or "0");
    }

    [Fact]
    public void A_delivery_time_limit_that_is_not_a_number_is_refused_naming_the_setting()
    {
        var options = new KafkaOptions { BootstrapServers = "b:9092" };
        options.Producer.Set("delivery.timeout.ms", "5 minutes");

        var ex = Assert.Throws<OutboxConfigurationException>(() => ProducerConfigFactory.TakeDeliveryTimeout(ProducerConfigFactory.Create(options)));

        Assert.Contains("delivery.timeout.ms", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'5 minutes'", ex.Message, StringComparison.Ordinal);
    }
}
