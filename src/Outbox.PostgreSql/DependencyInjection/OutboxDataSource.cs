using Microsoft.Extensions.Options;
using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// The outbox's <see cref="NpgsqlDataSource"/>: the application's (<c>UsePostgreSql()</c>, not disposed here), or one of
/// its own built lazily from <see cref="PostgreSqlOutboxOptions.ConnectionString"/>.
/// </summary>
internal sealed class OutboxDataSource : IAsyncDisposable, IDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource;
    private readonly bool _owned;

    public OutboxDataSource(IOptions<PostgreSqlOutboxOptions> options, IServiceProvider services)
    {
        var factory = options.Value.DataSourceFactory;
        _owned = factory is null;
        _dataSource = factory is null
            ? new(() => NpgsqlDataSource.Create(Tuned(
                ConnectionStringCheck.Validate(options.Value.ConnectionString, PostgreSqlOutboxOptionsRulesValidator.ConnectionStringOption))))
            : new(() => factory(services) ?? throw new OutboxConfigurationException(
                "The NpgsqlDataSource given to UsePostgreSql(...) is null: register one (for example services.AddNpgsqlDataSource(connectionString)) or pass a connection string."));
    }

    public NpgsqlDataSource DataSource => _dataSource.Value;

    /// <summary>The statements the relays run are few and run all the time: the pool the outbox builds for itself
    /// prepares them (Max Auto Prepare = 32) and has PostgreSQL keep one plan per prepared statement
    /// (<c>plan_cache_mode = force_generic_plan</c>: otherwise a claim over an array of lanes is planned again on every
    /// call), and skips the session reset when a connection goes back to the pool (No Reset On Close: its connections
    /// keep no session state). A connection string that sets any of these (Options for the last) keeps its own value.</summary>
    internal static string Tuned(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var keys = given.Keys.Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!keys.Contains("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 32;
        }

        if (!keys.Contains("NoResetOnClose"))
        {
            builder.NoResetOnClose = true;
        }

        if (!keys.Contains("Options"))
        {
            builder.Options = "-c plan_cache_mode=force_generic_plan";
        }

        return builder.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned && _dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        if (_owned && _dataSource.IsValueCreated)
        {
            _dataSource.Value.Dispose();
        }
    }
}
