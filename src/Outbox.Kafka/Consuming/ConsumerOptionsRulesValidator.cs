using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Outbox.Inbox;

namespace Outbox.Kafka.Consuming;

/// <summary>
/// Rules of <see cref="InboxConsumerOptions"/> that data annotations cannot say: retry delays, and the dead-letter topic of
/// every topic the group reads (the template applied to the topic of each subscribed event) must be a topic Kafka accepts.
/// </summary>
internal sealed class ConsumerOptionsRulesValidator(IServiceProvider? services = null) : IValidateOptions<InboxConsumerOptions>
{
    public ValidateOptionsResult Validate(string? name, InboxConsumerOptions options)
    {
        var failures = new List<string>();
        var group = string.IsNullOrEmpty(name) ? "" : $" (consumer group '{name}')";
        if (options.MaxRetryDelay < options.InitialRetryDelay)
        {
            failures.Add($"InboxConsumerOptions.MaxRetryDelay ({options.MaxRetryDelay}) must not be shorter than InboxConsumerOptions.InitialRetryDelay ({options.InitialRetryDelay}){group}.");
        }

        var template = options.DeadLetterTopicTemplate;
        if (string.IsNullOrEmpty(template)
            || !template.Contains(InboxConsumerOptions.TopicPlaceholder, StringComparison.Ordinal)
            || !TopicNames.IsValidTopicPart(template.Replace(InboxConsumerOptions.TopicPlaceholder, "x", StringComparison.Ordinal)))
        {
            failures.Add($"InboxConsumerOptions.DeadLetterTopicTemplate '{template}' must contain {InboxConsumerOptions.TopicPlaceholder} and otherwise only letters, digits, '.', '_' and '-'{group}.");
        }
        else
        {
            foreach (var (topic, deadLetterTopic) in DeadLetterTopics(name, template))
            {
                if (!TopicNames.IsValidTopicName(deadLetterTopic))
                {
                    failures.Add(
                        $"InboxConsumerOptions.DeadLetterTopicTemplate '{template}' makes the dead-letter topic '{deadLetterTopic}' ({deadLetterTopic.Length} characters) " +
                        $"of topic '{topic}'{group}, which Kafka refuses: {TopicNames.Rule}. Use a shorter template (or shorter topics: OutboxOptions.TopicTemplate, aggregate types).");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The topics the group reads and their dead-letter topics; none when the outbox options are invalid (their own validator says why).</summary>
    private List<(string Topic, string DeadLetterTopic)> DeadLetterTopics(string? group, string template)
    {
        if (services is null || group is null)
        {
            return [];
        }

        OutboxOptions outbox;
        try
        {
            outbox = services.GetRequiredService<IOptions<OutboxOptions>>().Value;
        }
        catch (OptionsValidationException)
        {
            return [];
        }

        var subscriptions = services.GetService<IOptionsMonitor<InboxSubscriptions>>()?.Get(group).Items ?? [];
        return subscriptions
            .Select(s => outbox.Mappings.FirstOrDefault(m => m.EventType == s.EventType))
            .OfType<EventMapping>()
            .Select(m => outbox.GetTopic(m.AggregateType))
            .Distinct(StringComparer.Ordinal)
            .Select(topic => (Topic: topic, DeadLetterTopic: template.Replace(InboxConsumerOptions.TopicPlaceholder, topic, StringComparison.Ordinal)))
            .ToList();
    }
}
