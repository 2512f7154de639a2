using Microsoft.Extensions.Options;

namespace Outbox.Kafka.Consuming;

/// <summary>Rules of <see cref="ConsumerOptions"/> that data annotations cannot say.</summary>
internal sealed class ConsumerOptionsRulesValidator : IValidateOptions<ConsumerOptions>
{
    public ValidateOptionsResult Validate(string? name, ConsumerOptions options)
    {
        var failures = new List<string>();
        var group = string.IsNullOrEmpty(name) ? "" : $" (consumer group '{name}')";
        if (options.MaxRetryDelay < options.InitialRetryDelay)
        {
            failures.Add($"ConsumerOptions.MaxRetryDelay ({options.MaxRetryDelay}) must not be shorter than ConsumerOptions.InitialRetryDelay ({options.InitialRetryDelay}){group}.");
        }

        var template = options.DeadLetterTopicTemplate;
        if (string.IsNullOrEmpty(template)
            || !template.Contains(ConsumerOptions.TopicPlaceholder, StringComparison.Ordinal)
            || !TopicNames.IsValidTopicPart(template.Replace(ConsumerOptions.TopicPlaceholder, "x", StringComparison.Ordinal)))
        {
            failures.Add($"ConsumerOptions.DeadLetterTopicTemplate '{template}' must contain {ConsumerOptions.TopicPlaceholder} and otherwise only letters, digits, '.', '_' and '-'{group}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
