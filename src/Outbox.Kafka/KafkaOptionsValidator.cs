using Microsoft.Extensions.Options;

namespace Outbox.Kafka;

/// <summary>Validates the data annotations of <see cref="KafkaOptions"/> at host start (source-generated).</summary>
[OptionsValidator]
internal sealed partial class KafkaOptionsValidator : IValidateOptions<KafkaOptions>;
