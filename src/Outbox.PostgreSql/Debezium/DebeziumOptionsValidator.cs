using Microsoft.Extensions.Options;

namespace Outbox.PostgreSql.Debezium;

/// <summary>Validates the data annotations of <see cref="DebeziumOptions"/> at host start.</summary>
[OptionsValidator]
internal sealed partial class DebeziumOptionsValidator : IValidateOptions<DebeziumOptions>;
