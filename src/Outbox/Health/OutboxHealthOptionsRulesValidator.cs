using Microsoft.Extensions.Options;

namespace Outbox;

/// <summary>Cross-field rules of <see cref="OutboxHealthOptions"/>.</summary>
internal sealed class OutboxHealthOptionsRulesValidator : IValidateOptions<OutboxHealthOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboxHealthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.PendingAgeUnhealthy <= options.PendingAgeDegraded
            ? ValidateOptionsResult.Fail(
                $"OutboxHealthOptions.PendingAgeUnhealthy ({options.PendingAgeUnhealthy}) must be above OutboxHealthOptions.PendingAgeDegraded ({options.PendingAgeDegraded}).")
            : ValidateOptionsResult.Success;
    }
}
