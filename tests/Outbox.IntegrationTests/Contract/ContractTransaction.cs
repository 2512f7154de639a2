using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Outbox.IntegrationTests.Contract;

/// <summary>
/// One application transaction of a contract test, on either write path. The test chooses the order of its steps:
/// writing an event of a key (<see cref="WriteEventAsync"/>) and locking that key's aggregate (<see cref="LockAsync"/>,
/// which waits while another transaction holds it). Writing before locking is what lets a transaction write first and
/// commit second. Committed and rolled-back events are recorded in the driver's <see cref="ContractLedger"/>.
/// </summary>
public sealed class ContractTransaction : IAsyncDisposable
{
    private const string LockSql =
        "INSERT INTO contract_aggregates (id, version) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET version = contract_aggregates.version + 1 RETURNING version";

    private readonly RelayContractDriver _driver;
    private readonly AsyncServiceScope? _scope;
    private readonly ContractDb? _db;
    private readonly IDbContextTransaction? _efTransaction;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly bool _ownsConnection;
    private readonly List<(string Key, int Token)> _events = [];
    private readonly Dictionary<string, int> _versions = [];
    private readonly Dictionary<string, (int Events, Dictionary<string, int> Versions)> _savepoints = [];
    private bool _ended;

    private ContractTransaction(
        RelayContractDriver driver, WritePath path, NpgsqlConnection connection, NpgsqlTransaction transaction, bool ownsConnection,
        AsyncServiceScope? scope = null, ContractDb? db = null, IDbContextTransaction? efTransaction = null)
    {
        _driver = driver;
        Path = path;
        _connection = connection;
        _transaction = transaction;
        _ownsConnection = ownsConnection;
        _scope = scope;
        _db = db;
        _efTransaction = efTransaction;
    }

    public WritePath Path { get; }

    /// <summary>The server process of the transaction's connection (to see it wait on a lock).</summary>
    public int BackendPid => _connection.ProcessID;

    internal static async Task<ContractTransaction> BeginAsync(RelayContractDriver driver, WritePath path)
    {
        if (path == WritePath.OutboxWriter)
        {
            var connection = await driver.DataSource.OpenConnectionAsync();
            var transaction = await connection.BeginTransactionAsync();
            return new ContractTransaction(driver, path, connection, transaction, ownsConnection: true);
        }

        var scope = driver.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<ContractDb>();
        var efTransaction = await db.Database.BeginTransactionAsync();
        return new ContractTransaction(
            driver, path, (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)efTransaction.GetDbTransaction(), ownsConnection: false, scope, db, efTransaction);
    }

    /// <summary>Writes one event of <paramref name="key"/> (EF Core: Outbox().Add and SaveChanges; else OutboxWriter) and returns its token.</summary>
    public async Task<int> WriteEventAsync(string key, string? text = null)
    {
        var (evt, token) = _driver.NewEvent(key, text);
        if (_db is not null)
        {
            _db.Outbox().Add(evt);
            await _db.SaveChangesAsync();
        }
        else
        {
            await _driver.Writer.EnqueueAsync(_connection, _transaction, evt);
        }

        _events.Add((key, token));
        return token;
    }

    /// <summary>Locks <paramref name="key"/>'s aggregate row (waiting while another transaction holds it) and bumps its version.</summary>
    public async Task<int> LockAsync(string key)
    {
        await using var command = new NpgsqlCommand(LockSql, _connection, _transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        var version = (int)(await command.ExecuteScalarAsync())!;
        _versions[key] = version;
        return version;
    }

    /// <summary>Writes an event, then locks its key: the order in which insertion order and commit order can differ.</summary>
    public async Task<int> WriteLockedEventAsync(string key, string? text = null)
    {
        var token = await WriteEventAsync(key, text);
        await LockAsync(key);
        return token;
    }

    /// <summary>
    /// A savepoint, on the OutboxWriter path only: with EF Core, events whose rows a rollback to a savepoint removed stay
    /// pending on the context and are written again by the next SaveChanges (WritePath/SavepointTests), which is the
    /// write path's contract, not the relay's.
    /// </summary>
    public async Task SaveAsync(string savepoint)
    {
        if (_efTransaction is not null)
        {
            throw new NotSupportedException("Savepoints are for the OutboxWriter path: EF Core writes rolled-back events again.");
        }

        await _transaction.SaveAsync(savepoint);

        _savepoints[savepoint] = (_events.Count, new Dictionary<string, int>(_versions));
    }

    /// <summary>Rolls back to <paramref name="savepoint"/>: the events written since are rolled back, the transaction goes on.</summary>
    public async Task RollbackToAsync(string savepoint)
    {
        await _transaction.RollbackAsync(savepoint);
        var (count, versions) = _savepoints[savepoint];
        _driver.Ledger.RolledBack(_events.Skip(count).Select(e => e.Token));
        _events.RemoveRange(count, _events.Count - count);
        _versions.Clear();
        foreach (var (key, version) in versions)
        {
            _versions[key] = version;
        }
    }

    public async Task CommitAsync()
    {
        var unlocked = _events.Select(e => e.Key).Where(k => !_versions.ContainsKey(k)).ToList();
        if (unlocked.Count > 0)
        {
            throw new InvalidOperationException($"Lock every key the transaction writes events of before committing (commit order is read from the version): {string.Join(", ", unlocked.Distinct())}.");
        }

        if (_efTransaction is not null)
        {
            await _efTransaction.CommitAsync();
        }
        else
        {
            await _transaction.CommitAsync();
        }

        _ended = true;
        _driver.Ledger.Committed(_events.Select((e, i) => (e.Key, _versions[e.Key], i, e.Token)));
    }

    public async Task RollbackAsync()
    {
        if (_efTransaction is not null)
        {
            await _efTransaction.RollbackAsync();
        }
        else
        {
            await _transaction.RollbackAsync();
        }

        _ended = true;
        _driver.Ledger.RolledBack(_events.Select(e => e.Token));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_ended)
        {
            // Not committed: whatever it wrote is rolled back with the connection's transaction.
            _driver.Ledger.RolledBack(_events.Select(e => e.Token));
        }

        if (_efTransaction is not null)
        {
            await _efTransaction.DisposeAsync();
        }
        else
        {
            await _transaction.DisposeAsync();
        }

        if (_ownsConnection)
        {
            await _connection.DisposeAsync();
        }

        if (_scope is { } scope)
        {
            await scope.DisposeAsync();
        }
    }
}
