using Microsoft.Extensions.Options;

namespace Outbox.Kafka.Consuming;

/// <summary>Validates <see cref="InboxConsumerOptions"/> data annotations at host start (generated).</summary>
[OptionsValidator]
internal sealed partial class ConsumerOptionsValidator : IValidateOptions<InboxConsumerOptions>;
