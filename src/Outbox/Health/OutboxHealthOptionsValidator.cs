using Microsoft.Extensions.Options;

namespace Outbox;

/// <summary>Validates the <see cref="OutboxHealthOptions"/> data annotations (source generated).</summary>
[OptionsValidator]
internal sealed partial class OutboxHealthOptionsValidator : IValidateOptions<OutboxHealthOptions>;
