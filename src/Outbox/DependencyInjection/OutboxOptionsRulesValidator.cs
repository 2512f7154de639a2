using Microsoft.Extensions.Options;

namespace Outbox;

/// <summary>Rules of <see cref="OutboxOptions"/> that data annotations cannot say: identifiers, topic template, mappings.</summary>
internal sealed class OutboxOptionsRulesValidator : IValidateOptions<OutboxOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboxOptions options)
    {
        var failures = new List<string>();
        Check(options.Schema, nameof(OutboxOptions.Schema));
        Check(options.MessagesTable, nameof(OutboxOptions.MessagesTable));
        Check(options.LanesTable, nameof(OutboxOptions.LanesTable));
        Check(options.DeadLettersTable, nameof(OutboxOptions.DeadLettersTable));
        Check(options.InboxTable, nameof(OutboxOptions.InboxTable));
        Check(options.InboxOffsetsTable, nameof(OutboxOptions.InboxOffsetsTable));

        if (failures.Count == 0)
        {
            failures.AddRange(DerivedObjectNames.Problems(options));
        }

        var tables = new[] { options.MessagesTable, options.LanesTable, options.DeadLettersTable, options.InboxTable, options.InboxOffsetsTable };
        if (tables.Distinct(StringComparer.Ordinal).Count() != tables.Length)
        {
            failures.Add("OutboxOptions table names (MessagesTable, LanesTable, DeadLettersTable, InboxTable, InboxOffsetsTable) must differ.");
        }

        if (string.IsNullOrEmpty(options.TopicTemplate)
            || !TopicNames.IsValidTopicPart(options.TopicTemplate.Replace(OutboxOptions.AggregateTypePlaceholder, "x", StringComparison.Ordinal)))
        {
            failures.Add($"OutboxOptions.TopicTemplate '{options.TopicTemplate}' must be a Kafka topic name (letters, digits, '.', '_', '-') with an optional {OutboxOptions.AggregateTypePlaceholder} placeholder.");
        }

        else
        {
            // The template is valid; each mapped aggregate type must also make a topic a broker accepts (length, "." and "..").
            foreach (var aggregateType in options.Mappings.Select(m => m.AggregateType).Distinct(StringComparer.Ordinal))
            {
                var topic = options.GetTopic(aggregateType);
                if (!TopicNames.IsValidTopicName(topic))
                {
                    failures.Add(
                        $"OutboxOptions.TopicTemplate '{options.TopicTemplate}' makes the topic '{topic}' ({topic.Length} characters) of aggregate type '{aggregateType}', which Kafka refuses: {TopicNames.Rule}. Use another aggregate type or template.");
                }
            }
        }

        try
        {
            _ = new OutboxEventRegistry(options.Mappings);
        }
        catch (OutboxConfigurationException ex)
        {
            failures.Add(ex.Message);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void Check(string? value, string option)
        {
            if (!SqlIdentifier.IsValid(value))
            {
                failures.Add($"OutboxOptions.{option} must be a plain SQL identifier (letters, digits and '_', starting with a letter or '_', at most 63 characters); got '{value}'.");
            }
        }
    }
}
