using Confluent.Kafka;

namespace Outbox.Kafka.Tests;

public sealed class KafkaOptionsValidationTests
{
    [Fact]
    public void Bootstrap_servers_are_required_in_the_options_or_the_producer_settings()
    {
        var missing = new KafkaOptionsRulesValidator().Validate(null, new KafkaOptions());
        Assert.Contains("KafkaOptions.BootstrapServers", missing.FailureMessage, StringComparison.Ordinal);

        var viaProducer = new KafkaOptions();
        viaProducer.Producer.BootstrapServers = "b:9092";
        Assert.True(new KafkaOptionsRulesValidator().Validate(null, viaProducer).Succeeded);
        Assert.True(new KafkaOptionsRulesValidator().Validate(null, new KafkaOptions { BootstrapServers = "b:9092" }).Succeeded);
    }

    [Fact]
    public void Turning_off_idempotence_or_acks_all_fails_naming_the_setting()
    {
        var options = new KafkaOptions { BootstrapServers = "b:9092" };
        options.Producer.EnableIdempotence = false;
        options.Producer.Acks = Acks.Leader;

        var result = new KafkaOptionsRulesValidator().Validate(null, options);

        Assert.Contains("KafkaOptions.Producer.EnableIdempotence", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("KafkaOptions.Producer.Acks", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void The_flush_timeout_range_is_checked()
    {
        var result = new KafkaOptionsValidator().Validate(null, new KafkaOptions { BootstrapServers = "b", FlushTimeout = TimeSpan.FromSeconds(-1) });
        Assert.Contains(nameof(KafkaOptions.FlushTimeout), result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a broker list;;;")]
    [InlineData("localhost:notaport")]
    [InlineData("http://broker:9092")]
    [InlineData(",,,")]
    [InlineData("broker:0")]
    [InlineData("broker:65536")]
    [InlineData("broker:")]
    [InlineData("broker:9092,other broker:9092")]
    [InlineData("::1:9092")]
    [InlineData("[::1:9092")]
    [InlineData("[not-ipv6]:9092")]
    [InlineData("kafka+ssl://broker:9092")]
    public void A_bootstrap_list_librdkafka_cannot_use_fails_naming_the_setting(string servers)
    {
        var result = new KafkaOptionsRulesValidator().Validate(null, new KafkaOptions { BootstrapServers = servers });

        Assert.True(result.Failed, servers);
        Assert.Contains("KafkaOptions.BootstrapServers", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("b:9092")]
    [InlineData("host:9092,host2:9093")]
    [InlineData("host:9092, host2:9093")]
    [InlineData("localhost")]
    [InlineData("127.0.0.1:1")]
    [InlineData("[::1]:9092")]
    [InlineData("[fe80::1%eth0]:9092")]
    [InlineData("PLAINTEXT://broker:9092")]
    [InlineData("sasl_ssl://b1.example.com:9093,SASL_SSL://b2.example.com:9093")]
    [InlineData("b-1.cluster.kafka.eu-west-1.amazonaws.com:9098")]
    [InlineData("broker_1:65535,")]
    public void A_bootstrap_list_librdkafka_accepts_passes(string servers) =>
        Assert.True(new KafkaOptionsRulesValidator().Validate(null, new KafkaOptions { BootstrapServers = servers }).Succeeded, servers);

    [Fact]
    public void Bootstrap_servers_set_in_the_producer_or_consumer_settings_are_checked_naming_them()
    {
        var options = new KafkaOptions { BootstrapServers = "b:9092" };
        options.Producer.BootstrapServers = "b:x";
        options.Consumer.BootstrapServers = "http://b:9092";

        var result = new KafkaOptionsRulesValidator().Validate(null, options);

        Assert.Contains("KafkaOptions.Producer.BootstrapServers", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("KafkaOptions.Consumer.BootstrapServers", result.FailureMessage, StringComparison.Ordinal);
    }
}
