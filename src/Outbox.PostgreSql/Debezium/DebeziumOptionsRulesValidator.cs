using Microsoft.Extensions.Options;
using Npgsql;
using Outbox.PostgreSql.Cdc;
using Outbox.PostgreSql.Replication;

namespace Outbox.PostgreSql.Debezium;

/// <summary>Rules of <see cref="DebeziumOptions"/> that data annotations cannot say: identifiers and the connection string.</summary>
internal sealed class DebeziumOptionsRulesValidator : IValidateOptions<DebeziumOptions>
{
    public ValidateOptionsResult Validate(string? name, DebeziumOptions options)
    {
        var failures = new List<string>();
        if (!CdcNames.IsValidSlotName(options.SlotName))
        {
            failures.Add($"DebeziumOptions.SlotName must be a replication slot name (lower-case letters, digits and '_', at most 63 characters); got '{options.SlotName}'.");
        }

        if (!SqlIdentifier.IsValid(options.PublicationName))
        {
            failures.Add($"DebeziumOptions.PublicationName must be a plain SQL identifier (letters, digits and '_', starting with a letter or '_', at most 63 characters); got '{options.PublicationName}'.");
        }

        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add("DebeziumOptions.ConnectionString is required (it defaults to the connection string of UsePostgreSql(...)).");
        }
        else
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
                if (string.IsNullOrWhiteSpace(builder.Database) || string.IsNullOrWhiteSpace(builder.Username))
                {
                    failures.Add("DebeziumOptions.ConnectionString must name the Database and the Username the connector connects with.");
                }
            }
            catch (ArgumentException)
            {
                failures.Add(ConnectionStringCheck.Problem(options.ConnectionString, "DebeziumOptions.ConnectionString")!);
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
