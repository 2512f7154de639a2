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
}
