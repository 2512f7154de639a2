using Microsoft.Extensions.Options;

namespace Outbox.PostgreSql;

/// <summary>Rules of <see cref="PostgreSqlOutboxOptions"/> that data annotations cannot say: the connection string parses.</summary>
internal sealed class PostgreSqlOutboxOptionsRulesValidator : IValidateOptions<PostgreSqlOutboxOptions>
{
    public const string ConnectionStringOption = "PostgreSqlOutboxOptions.ConnectionString (UsePostgreSql(connectionString))";

    public const string ReplicationConnectionStringOption = "PostgreSqlOutboxOptions.ReplicationConnectionString";

    public ValidateOptionsResult Validate(string? name, PostgreSqlOutboxOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrEmpty(options.ConnectionString))
        {
            if (options.DataSourceFactory is null)
            {
                failures.Add(
                    "PostgreSqlOutboxOptions.ConnectionString is required: pass the connection string to UsePostgreSql(connectionString), " +
                    "or let the outbox use the application's NpgsqlDataSource with UsePostgreSql() (after AddNpgsqlDataSource) or UsePostgreSql(serviceProvider => dataSource).");
            }
        }
        else if (ConnectionStringCheck.Problem(options.ConnectionString, ConnectionStringOption) is { } problem)
        {
            failures.Add(problem);
        }

        if (!string.IsNullOrEmpty(options.ReplicationConnectionString)
            && ConnectionStringCheck.Problem(options.ReplicationConnectionString, ReplicationConnectionStringOption) is { } replicationProblem)
        {
            failures.Add(replicationProblem);
        }

        if (options.CdcRelayRegistered && options.EffectiveReplicationConnectionString is null)
        {
            failures.Add(
                "The CDC relay (AddCdcRelay) opens a logical replication connection, which an NpgsqlDataSource cannot give: set " +
                "PostgreSqlOutboxOptions.ReplicationConnectionString (UsePostgreSql(configure: o => o.ReplicationConnectionString = ...)) to a " +
                "connection string of the outbox's database for a role with the REPLICATION attribute.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
