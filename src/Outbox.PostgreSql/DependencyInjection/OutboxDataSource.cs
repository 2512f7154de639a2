using Microsoft.Extensions.Options;
using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>The outbox's own <see cref="NpgsqlDataSource"/>, built lazily from <see cref="PostgreSqlOutboxOptions"/>.</summary>
internal sealed class OutboxDataSource(IOptions<PostgreSqlOutboxOptions> options) : IAsyncDisposable, IDisposable
{
    private readonly Lazy<NpgsqlDataSource> _dataSource = new(() => NpgsqlDataSource.Create(
        ConnectionStringCheck.Validate(options.Value.ConnectionString, PostgreSqlOutboxOptionsRulesValidator.ConnectionStringOption)));

    public NpgsqlDataSource DataSource => _dataSource.Value;

    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        if (_dataSource.IsValueCreated)
        {
            _dataSource.Value.Dispose();
        }
    }
}
