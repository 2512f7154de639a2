using Microsoft.Extensions.Options;

namespace Outbox.Relay;

/// <summary>Cross-field rules of <see cref="PollingRelayOptions"/>.</summary>
internal sealed class PollingRelayOptionsRulesValidator : IValidateOptions<PollingRelayOptions>
{
    public ValidateOptionsResult Validate(string? name, PollingRelayOptions options)
    {
        var failures = new List<string>();
        if (options.LeaseDuration <= options.HeartbeatInterval)
        {
            failures.Add($"PollingRelayOptions.LeaseDuration ({options.LeaseDuration}) must be longer than PollingRelayOptions.HeartbeatInterval ({options.HeartbeatInterval}), or leases lapse between renewals.");
        }

        if (options.MaxRetryDelay < options.InitialRetryDelay)
        {
            failures.Add($"PollingRelayOptions.MaxRetryDelay ({options.MaxRetryDelay}) must be at least PollingRelayOptions.InitialRetryDelay ({options.InitialRetryDelay}).");
        }

        if (options.PublishedRetention is { } retention && retention <= TimeSpan.Zero)
        {
            failures.Add($"PollingRelayOptions.PublishedRetention must be positive when set; got {retention}.");
        }

        if (options.InstanceId is { } id && string.IsNullOrWhiteSpace(id))
        {
            failures.Add("PollingRelayOptions.InstanceId must not be blank when set.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
