using Microsoft.Extensions.Options;

namespace Outbox;

/// <summary>Validates <see cref="OutboxOptions"/> at host start: data annotations (generated) plus cross-field rules.</summary>
[OptionsValidator]
internal sealed partial class OutboxOptionsDataAnnotationsValidator : IValidateOptions<OutboxOptions>;
