using Microsoft.Extensions.Options;
using Outbox.PostgreSql;

namespace Outbox.PostgreSql.Databases;

/// <summary>Checks <see cref="OutboxDatabasesOptions"/> at host start, and that the process's relay mode can serve many databases.</summary>
internal sealed class OutboxDatabasesOptionsValidator(RelayModeRegistration? relayMode = null) : IValidateOptions<OutboxDatabasesOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboxDatabasesOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.RefreshInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"OutboxDatabasesOptions.RefreshInterval must be at least 100 ms (it is {options.RefreshInterval}).");
        }

        if (options.NotListeningPollInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"OutboxDatabasesOptions.NotListeningPollInterval must be at least 100 ms (it is {options.NotListeningPollInterval}).");
        }

        if (options.ActivityCheckInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"OutboxDatabasesOptions.ActivityCheckInterval must be at least 100 ms (it is {options.ActivityCheckInterval}).");
        }

        if (options.MaxListeningDatabases < 0)
        {
            failures.Add($"OutboxDatabasesOptions.MaxListeningDatabases must not be negative (it is {options.MaxListeningDatabases}).");
        }

        if (options.MaxPoolSizePerDatabase < 2)
        {
            failures.Add($"OutboxDatabasesOptions.MaxPoolSizePerDatabase must be at least 2 (it is {options.MaxPoolSizePerDatabase}).");
        }

        if (options.MaxConcurrentDrainCycles < 1)
        {
            failures.Add($"OutboxDatabasesOptions.MaxConcurrentDrainCycles must be at least 1 (it is {options.MaxConcurrentDrainCycles}).");
        }

        if (options.SourceFactory is not null && options.Databases.Count > 0)
        {
            failures.Add("UsePostgreSqlDatabases(source, ...) takes its databases from the source: leave OutboxDatabasesOptions.Databases empty (or add them to the source).");
        }

        if (options.SourceFactory is null && options.Databases.Count == 0)
        {
            failures.Add("UsePostgreSqlDatabases(...) has no database: add them with options.Add(name, connectionString), or pass an IOutboxDatabaseSource (an OutboxDatabaseSet for databases added at run time).");
        }

        foreach (var group in options.Databases.GroupBy(d => d?.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            failures.Add($"The outbox database name '{group.Key}' is given {group.Count()} times: names must be unique.");
        }

        if (options.Databases.Any(d => d is null))
        {
            failures.Add("OutboxDatabasesOptions.Databases contains null.");
        }

        if (relayMode is { Mode: RelayMode.Debezium })
        {
            failures.Add(
                "UseDebezium() serves one database per connector, and UsePostgreSqlDatabases(...) spans many: relay them with AddPollingRelay() or " +
                "AddCdcRelay(), or run one Debezium connector per database with UsePostgreSql(connectionString). See docs/multi-database.md.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
