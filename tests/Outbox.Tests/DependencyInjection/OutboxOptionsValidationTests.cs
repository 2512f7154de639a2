using Microsoft.Extensions.Options;

namespace Outbox.Tests.DependencyInjection;

public sealed class OutboxOptionsValidationTests
{
    private sealed record E1(string K);

    private sealed record E2(string K);

    private static ValidateOptionsResult Validate(OutboxOptions options)
    {
        var annotations = new OutboxOptionsDataAnnotationsValidator().Validate(null, options);
        return annotations.Failed ? annotations : new OutboxOptionsRulesValidator().Validate(null, options);
    }

    [Fact]
    public void Defaults_are_valid() => Assert.True(Validate(new OutboxOptions()).Succeeded);

    [Theory]
    [InlineData(0)]
    [InlineData(4097)]
    public void Lane_count_out_of_range_names_the_setting(int lanes)
    {
        var result = Validate(new OutboxOptions { LaneCount = lanes });
        Assert.True(result.Failed);
        Assert.Contains("LaneCount", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_positive_payload_limit_names_the_setting()
    {
        var result = Validate(new OutboxOptions { MaxPayloadBytes = 0 });
        Assert.Contains("MaxPayloadBytes", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bad topic {aggregatetype}")]
    [InlineData("")]
    public void Invalid_topic_template_names_the_setting(string template)
    {
        var result = Validate(new OutboxOptions { TopicTemplate = template });
        Assert.True(result.Failed);
        Assert.Contains("TopicTemplate", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Hostile_table_name_names_the_setting()
    {
        var result = Validate(new OutboxOptions { DeadLettersTable = "x\"; DROP TABLE y; --" });
        Assert.Contains("OutboxOptions.DeadLettersTable", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Equal_table_names_are_rejected()
    {
        var result = Validate(new OutboxOptions { InboxTable = "messages" });
        Assert.Contains("must differ", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_type_names_are_rejected_naming_both_types()
    {
        var options = new OutboxOptions().MapEvent<E1>("a", e => e.K, "Same").MapEvent<E2>("a", e => e.K, "Same");
        var result = Validate(options);
        Assert.Contains(typeof(E1).FullName!, result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(typeof(E2).FullName!, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregate_type_with_characters_a_topic_cannot_hold_is_rejected_at_mapping()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OutboxOptions().MapEvent<E1>("a/b", e => e.K));
        Assert.Contains("a/b", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregate_type_whose_topic_is_too_long_for_Kafka_fails_at_start_naming_it()
    {
        // 249 characters pass the mapping's own check, but "outbox.event." makes the topic 262 long.
        var aggregateType = new string('a', 249);
        var result = Validate(new OutboxOptions().MapEvent<E1>(aggregateType, e => e.K));

        Assert.True(result.Failed);
        Assert.Contains("262 characters", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(aggregateType, result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("TopicTemplate", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregate_type_whose_topic_just_fits_is_accepted() =>
        Assert.True(Validate(new OutboxOptions().MapEvent<E1>(new string('a', 249 - "outbox.event.".Length), e => e.K)).Succeeded);

    [Fact]
    public void Topic_template_replaces_the_aggregate_type() =>
        Assert.Equal("outbox.event.movie", new OutboxOptions().GetTopic("movie"));
}
