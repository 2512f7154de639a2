using Microsoft.Extensions.Options;

namespace Outbox.Relay;

/// <summary>Validates the data annotations of <see cref="PollingRelayOptions"/> at host start (source-generated).</summary>
[OptionsValidator]
internal sealed partial class PollingRelayOptionsValidator : IValidateOptions<PollingRelayOptions>;
