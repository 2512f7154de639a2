using Microsoft.Extensions.Options;

namespace Outbox.PostgreSql;

/// <summary>Validates <see cref="PostgreSqlOutboxOptions"/> at host start.</summary>
[OptionsValidator]
internal sealed partial class PostgreSqlOutboxOptionsValidator : IValidateOptions<PostgreSqlOutboxOptions>;
