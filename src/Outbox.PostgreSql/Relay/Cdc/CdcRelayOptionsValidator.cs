using Microsoft.Extensions.Options;

namespace Outbox.PostgreSql.Cdc;

/// <summary>Validates the data annotations of <see cref="CdcRelayOptions"/> at host start.</summary>
[OptionsValidator]
internal sealed partial class CdcRelayOptionsValidator : IValidateOptions<CdcRelayOptions>;
