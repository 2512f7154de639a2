using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Outbox.Kafka.Consuming;

namespace Outbox.Kafka.Tests.Consuming;

public sealed class ConsumerOptionsRulesValidatorTests
{
    public sealed record Shipped(string Id);

    private sealed class ShippedHandler : IInboxHandler<Shipped>
    {
        public Task HandleAsync(Shipped evt, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class NoDb(DbContextOptions<NoDb> options) : DbContext(options);

    private static ValidateOptionsResult Validate(string topicTemplate, string deadLetterTemplate)
    {
        var services = new ServiceCollection();
        services.AddOutbox(o =>
            {
                o.TopicTemplate = topicTemplate;
                o.MapEvent<Shipped>("shipment", e => e.Id);
            })
            .AddConsumer<NoDb>("g", c => c.Subscribe<Shipped, ShippedHandler>().Configure(o => o.DeadLetterTopicTemplate = deadLetterTemplate));
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptionsMonitor<InboxConsumerOptions>>();
        try
        {
            _ = options.Get("g");
            return ValidateOptionsResult.Success;
        }
        catch (OptionsValidationException ex)
        {
            return ValidateOptionsResult.Fail(ex.Failures);
        }
    }

    [Fact]
    public void A_dead_letter_topic_longer_than_Kafka_allows_fails_naming_the_template_and_the_topic()
    {
        // The topic has 249 characters (Kafka's limit), so "{topic}.dlq" makes 253.
        var template = new string('t', 249 - "shipment".Length) + OutboxOptions.AggregateTypePlaceholder;

        var result = Validate(template, "{topic}.dlq");

        Assert.True(result.Failed);
        Assert.Contains("InboxConsumerOptions.DeadLetterTopicTemplate", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("253 characters", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("consumer group 'g'", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dead_letter_topic_of_exactly_249_characters_is_accepted()
    {
        var template = new string('t', 245 - "shipment".Length) + OutboxOptions.AggregateTypePlaceholder;

        Assert.True(Validate(template, "{topic}.dlq").Succeeded);
    }
}
