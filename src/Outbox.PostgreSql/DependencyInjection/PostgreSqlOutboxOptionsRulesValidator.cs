using Microsoft.Extensions.Options;

namespace Outbox.PostgreSql;

/// <summary>Rules of <see cref="PostgreSqlOutboxOptions"/> that data annotations cannot say: the connection string parses.</summary>
internal sealed class PostgreSqlOutboxOptionsRulesValidator : IValidateOptions<PostgreSqlOutboxOptions>
{
    public const string ConnectionStringOption = "PostgreSqlOutboxOptions.ConnectionString (UsePostgreSql(connectionString))";

    public ValidateOptionsResult Validate(string? name, PostgreSqlOutboxOptions options)
    {
        // An empty string is the data annotations' failure (Required); only a present, malformed one is checked here.
        if (string.IsNullOrEmpty(options.ConnectionString))
        {
            return ValidateOptionsResult.Success;
        }

        return ConnectionStringCheck.Problem(options.ConnectionString, ConnectionStringOption) is { } problem
            ? ValidateOptionsResult.Fail(problem)
            : ValidateOptionsResult.Success;
    }
}
