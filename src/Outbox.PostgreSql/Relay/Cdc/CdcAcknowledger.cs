using Microsoft.Extensions.Logging;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Turns the broker's results of a batch into progress: the prefix of rows that are done (acknowledged, or
/// dead-lettered after <see cref="CdcRelayOptions.MaxAttempts"/> failures). Failure counts live across sessions, since
/// every retry replays the failed row from the slot. It also remembers the rows the broker acknowledged (or that were
/// dead-lettered) lately: a stream restarted after a failure replays whole transactions from the confirmed position,
/// and rows of them that are done are not sent again (only a crash of the process can still repeat them).
/// </summary>
/// <remarks>
/// Rows are known by (id, commit position of their transaction), never by id alone: a dead letter replayed into the
/// outbox is a new insert with the same id in a later transaction, and must be published, not mistaken for a repeat
/// of the transaction that dead-lettered it.
/// </remarks>
internal sealed class CdcAcknowledger(CdcStore store, CdcRelayOptions options, TimeProvider timeProvider, ILogger logger)
{
    private readonly Lock _gate = new();
    private const int RememberedAcknowledgements = 65_536;
    private readonly Dictionary<(Guid Id, ulong CommitLsn), int> _failures = [];
    private readonly HashSet<(Guid Id, ulong CommitLsn)> _acknowledged = [];
    private readonly Queue<(Guid Id, ulong CommitLsn)> _acknowledgedOrder = new();
    private long _published;

    /// <summary>Gets how many rows the broker acknowledged since the relay started.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Returns how many leading rows are done and, when that is not all of them, the error of the first one that is not.</summary>
    public async Task<(int Done, string? Error)> SettleAsync(IReadOnlyList<CdcRow> rows, PublishResult[] results, CancellationToken cancellationToken)
    {
        var done = 0;
        var acknowledged = 0;
        string? error = null;
        for (; done < rows.Count; done++)
        {
            var row = rows[done];
            var message = row.Message;
            var key = (message.Id, row.CommitLsn);
            var result = results[done];
            if (result.Status == PublishStatus.Acknowledged)
            {
                Forget(key);
                if (RememberAcknowledged(key))
                {
                    // Counted once: a replayed row Kafka already had is settled again without being sent.
                    acknowledged++;
                }

                continue;
            }

            if (result.Status == PublishStatus.NotAttempted)
            {
                error = "not attempted: an earlier row of the batch failed";
                break;
            }

            error = result.Error ?? "unknown error";
            var attempts = CountFailure(key);
            if (attempts < options.MaxAttempts)
            {
                Log.PublishFailed(logger, message.Id, attempts, options.MaxAttempts, error);
                break;
            }

            await store.DeadLetterAsync(message, attempts, error, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            Log.DeadLettered(logger, message.Id, attempts, error);
            Forget(key);

            // Done as well: a replay of its transaction does not try it again (a replay of the dead letter is a new
            // transaction, so a new key).
            RememberAcknowledged(key);
            error = null;
        }

        Interlocked.Add(ref _published, acknowledged);
        return (done, error);
    }

    /// <summary>
    /// Gets a value indicating whether this insert (the row's id in the transaction that committed at its position) was
    /// acknowledged or dead-lettered lately (in this process).
    /// </summary>
    public bool WasAcknowledged(CdcRow row)
    {
        lock (_gate)
        {
            return _acknowledged.Contains((row.Message.Id, row.CommitLsn));
        }
    }

    private bool RememberAcknowledged((Guid Id, ulong CommitLsn) key)
    {
        lock (_gate)
        {
            if (!_acknowledged.Add(key))
            {
                return false;
            }

            _acknowledgedOrder.Enqueue(key);
            if (_acknowledgedOrder.Count > RememberedAcknowledgements)
            {
                _acknowledged.Remove(_acknowledgedOrder.Dequeue());
            }

            return true;
        }
    }

    private int CountFailure((Guid Id, ulong CommitLsn) key)
    {
        lock (_gate)
        {
            _failures.TryGetValue(key, out var attempts);
            _failures[key] = ++attempts;
            return attempts;
        }
    }

    private void Forget((Guid Id, ulong CommitLsn) key)
    {
        lock (_gate)
        {
            if (_failures.Count > 0)
            {
                _failures.Remove(key);
            }
        }
    }
}
