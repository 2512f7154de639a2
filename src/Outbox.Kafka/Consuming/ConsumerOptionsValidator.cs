using Microsoft.Extensions.Options;

namespace Outbox.Kafka.Consuming;

/// <summary>Validates <see cref="ConsumerOptions"/> data annotations at host start (generated).</summary>
[OptionsValidator]
internal sealed partial class ConsumerOptionsValidator : IValidateOptions<ConsumerOptions>;
