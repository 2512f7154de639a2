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
            ? new(() => NpgsqlDataSource.Create(
                ConnectionStringCheck.Validate(options.Value.ConnectionString, PostgreSqlOutboxOptionsRulesValidator.ConnectionStringOption)))
            : new(() => factory(services) ?? throw new OutboxConfigurationException(
                "The NpgsqlDataSource given to UsePostgreSql(...) is null: register one (for example services.AddNpgsqlDataSource(connectionString)) or pass a connection string."));
    }

    public NpgsqlDataSource DataSource => _dataSource.Value;

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
