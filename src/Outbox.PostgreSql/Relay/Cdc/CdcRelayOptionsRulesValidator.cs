using Microsoft.Extensions.Options;
using Outbox.PostgreSql.Replication;

namespace Outbox.PostgreSql.Cdc;

/// <summary>Rules of <see cref="CdcRelayOptions"/> that data annotations cannot say: identifiers and delays.</summary>
internal sealed class CdcRelayOptionsRulesValidator : IValidateOptions<CdcRelayOptions>
{
    public ValidateOptionsResult Validate(string? name, CdcRelayOptions options)
    {
        var failures = new List<string>();
        if (!CdcNames.IsValidSlotName(options.SlotName))
        {
            failures.Add($"CdcRelayOptions.SlotName must be a replication slot name (lower-case letters, digits and '_', at most 63 characters); got '{options.SlotName}'.");
        }

        if (!SqlIdentifier.IsValid(options.PublicationName))
        {
            failures.Add($"CdcRelayOptions.PublicationName must be a plain SQL identifier (letters, digits and '_', starting with a letter or '_', at most 63 characters); got '{options.PublicationName}'.");
        }

        if (options.MaxRetryDelay < options.InitialRetryDelay)
        {
            failures.Add($"CdcRelayOptions.MaxRetryDelay ({options.MaxRetryDelay}) must not be shorter than CdcRelayOptions.InitialRetryDelay ({options.InitialRetryDelay}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
