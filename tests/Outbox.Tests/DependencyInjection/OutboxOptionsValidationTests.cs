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

    [Theory]
    [InlineData(63)]    // a valid identifier: <table>_commit_seq was cut to the table's own name
    [InlineData(53)]    // the commit trigger's name was cut: the polling relay reported it missing
    [InlineData(45)]    // ix_<table>_lane_commit_seq, the longest derived name, is one byte too long
    public void Messages_table_whose_derived_names_are_too_long_fails_naming_the_setting_and_the_limit(int length)
    {
        var result = Validate(new OutboxOptions { MessagesTable = new string('m', length) });

        Assert.True(result.Failed);
        Assert.Contains("OutboxOptions.MessagesTable", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("at most 44 characters", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void The_longest_names_whose_derived_names_fit_are_accepted()
    {
        var options = new OutboxOptions
        {
            Schema = new string('s', 18),                 // schema + "." + table = 63 bytes: the pg_notify channel's limit
            MessagesTable = new string('m', 44),          // ix_<table>_lane_commit_seq = 63
            LanesTable = new string('l', 53),             // <lanes>_instances = 63
            InboxTable = new string('i', 49),             // ix_<inbox>_handled_at = 63
            DeadLettersTable = new string('d', 63),
            InboxOffsetsTable = new string('o', 63),
        };

        var result = Validate(options);

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Schema_and_messages_table_longer_than_a_notification_channel_fail_naming_both()
    {
        // 19 + 1 + 44 = 64 bytes: pg_notify refused the channel at every commit.
        var result = Validate(new OutboxOptions { Schema = new string('s', 19), MessagesTable = new string('m', 44) });

        Assert.True(result.Failed);
        Assert.Contains("OutboxOptions.Schema and OutboxOptions.MessagesTable", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("64 bytes", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Lanes_and_inbox_tables_whose_derived_names_are_too_long_fail_naming_them()
    {
        var result = Validate(new OutboxOptions { LanesTable = new string('l', 54), InboxTable = new string('i', 50) });

        Assert.Contains("OutboxOptions.LanesTable", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("_instances", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("OutboxOptions.InboxTable", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("_handled_at", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("outbox\n")]
    [InlineData("messages\n")]
    public void An_identifier_with_a_trailing_newline_is_refused(string name)
    {
        var result = Validate(new OutboxOptions { Schema = name, MessagesTable = name });

        Assert.True(result.Failed);
        Assert.Contains("OutboxOptions.Schema", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("OutboxOptions.MessagesTable", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    public void An_aggregate_type_that_makes_the_topic_dot_or_dot_dot_fails_naming_the_template(string aggregateType)
    {
        var result = Validate(new OutboxOptions { TopicTemplate = OutboxOptions.AggregateTypePlaceholder }.MapEvent<E1>(aggregateType, e => e.K));

        Assert.True(result.Failed);
        Assert.Contains("TopicTemplate", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains($"'{aggregateType}'", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_type_name_that_is_not_valid_UTF16_is_refused_at_mapping()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OutboxOptions().MapEvent<E1>("a", e => e.K, "Renamed\uD800"));
        Assert.Contains("UTF-16", ex.Message, StringComparison.Ordinal);
    }
}
