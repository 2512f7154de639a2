namespace Outbox;

/// <summary>
/// A set of outbox databases that the application changes at run time (a tenant is created or deleted): register it as the
/// source of <c>UsePostgreSqlDatabases(services => set)</c>, and every <see cref="Add"/> or <see cref="Remove"/> is picked up
/// by the relay fleet at once, without waiting for <see cref="OutboxDatabasesOptions.RefreshInterval"/>. Thread-safe.
/// </summary>
public sealed class OutboxDatabaseSet : IOutboxDatabaseSource
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, OutboxDatabase> _databases = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates a set.</summary>
    /// <param name="databases">The databases it starts with.</param>
    /// <exception cref="OutboxConfigurationException">Two of them have the same name.</exception>
    public OutboxDatabaseSet(IEnumerable<OutboxDatabase>? databases = null)
    {
        foreach (var database in databases ?? [])
        {
            ArgumentNullException.ThrowIfNull(database);
            if (!_databases.TryAdd(database.Name, database))
            {
                throw new OutboxConfigurationException($"The outbox database name '{database.Name}' is given twice: names must be unique.");
            }
        }
    }

    /// <summary>Gets the databases in the set now.</summary>
    public IReadOnlyCollection<OutboxDatabase> Databases
    {
        get
        {
            lock (_gate)
            {
                return [.. _databases.Values];
            }
        }
    }

    /// <summary>Adds a database, or replaces the connection string of the one with its name.</summary>
    /// <param name="database">The database.</param>
    /// <returns><see langword="true"/> when the set changed.</returns>
    public bool Add(OutboxDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        lock (_gate)
        {
            if (_databases.TryGetValue(database.Name, out var existing) && existing == database)
            {
                return false;
            }

            _databases[database.Name] = database;
            SignalChanged();
            return true;
        }
    }

    /// <summary>Removes the database with the given name: its relay stops and gives its leases back; its rows stay where they are.</summary>
    /// <param name="name">The database's name.</param>
    /// <returns><see langword="true"/> when the set had it.</returns>
    public bool Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            if (!_databases.Remove(name))
            {
                return false;
            }

            SignalChanged();
            return true;
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyCollection<OutboxDatabase>> GetDatabasesAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Databases);

    /// <summary>Gets a task that completes at the next change.</summary>
    internal Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    private void SignalChanged()
    {
        var changed = _changed;
        _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}
