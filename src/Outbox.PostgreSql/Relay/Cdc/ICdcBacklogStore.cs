using Outbox.Providers;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// The rows that were in the outbox table when the slot was created (the backlog), as <see cref="CdcBacklogDrain"/>
/// needs them: <see cref="CdcStore"/> in production, a fake in unit tests.
/// </summary>
internal interface ICdcBacklogStore
{
    /// <summary>The first <paramref name="limit"/> backlog rows, in commit order.</summary>
    Task<List<OutboxRecord>> ReadBacklogAsync(int limit, CancellationToken cancellationToken);

    /// <summary>The parked-keys rows of <paramref name="keys"/>: per key found, its release position (<see langword="null"/> while held); a key without a row is not held.</summary>
    Task<Dictionary<(string Type, string Id), ulong?>> ReadKeyStatesAsync(IReadOnlyCollection<(string Type, string Id)> keys, CancellationToken cancellationToken);

    /// <summary>Deletes published backlog rows.</summary>
    Task DeleteBacklogAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken);

    /// <summary>Moves backlog rows of held keys into the outbox table, in their order, where they wait with their key's other rows.</summary>
    Task MoveBacklogToMessagesAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken);
}
