using Microsoft.Extensions.Logging;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Turns the broker's results of a batch into progress: the prefix of rows that are done (acknowledged, or
/// dead-lettered after <see cref="CdcRelayOptions.MaxAttempts"/> failures). Failure counts live across sessions, since
/// every retry replays the failed row from the slot. It also remembers the ids the broker acknowledged lately: a stream
/// restarted after a failure replays whole transactions from the confirmed position, and rows of them that Kafka
/// already has are not sent again (only a crash of the process can still repeat them).
/// </summary>
internal sealed class CdcAcknowledger(CdcStore store, CdcRelayOptions options, TimeProvider timeProvider, ILogger logger)
{
    private readonly Lock _gate = new();
    private const int RememberedAcknowledgements = 65_536;
    private readonly Dictionary<Guid, int> _failures = [];
    private readonly HashSet<Guid> _acknowledged = [];
    private readonly Queue<Guid> _acknowledgedOrder = new();
    private long _published;

    /// <summary>Gets how many rows the broker acknowledged since the relay started.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Returns how many leading rows are done and, when that is not all of them, the error of the first one that is not.</summary>
    public async Task<(int Done, string? Error)> SettleAsync(IReadOnlyList<OutboxMessage> messages, PublishResult[] results, CancellationToken cancellationToken)
    {
        var done = 0;
        var acknowledged = 0;
        string? error = null;
        for (; done < messages.Count; done++)
        {
            var message = messages[done];
            var result = results[done];
            if (result.Status == PublishStatus.Acknowledged)
            {
                Forget(message.Id);
                if (RememberAcknowledged(message.Id))
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
            var attempts = CountFailure(message.Id);
            if (attempts < options.MaxAttempts)
            {
                Log.PublishFailed(logger, message.Id, attempts, options.MaxAttempts, error);
                break;
            }

            await store.DeadLetterAsync(message, attempts, error, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            Log.DeadLettered(logger, message.Id, attempts, error);
            Forget(message.Id);

            // Done as well: a replay of its transaction does not try it again.
            RememberAcknowledged(message.Id);
            error = null;
        }

        Interlocked.Add(ref _published, acknowledged);
        return (done, error);
    }

    /// <summary>Gets a value indicating whether the broker acknowledged this row lately (in this process).</summary>
    public bool WasAcknowledged(Guid id)
    {
        lock (_gate)
        {
            return _acknowledged.Contains(id);
        }
    }

    private bool RememberAcknowledged(Guid id)
    {
        lock (_gate)
        {
            if (!_acknowledged.Add(id))
            {
                return false;
            }

            _acknowledgedOrder.Enqueue(id);
            if (_acknowledgedOrder.Count > RememberedAcknowledgements)
            {
                _acknowledged.Remove(_acknowledgedOrder.Dequeue());
            }

            return true;
        }
    }

    private int CountFailure(Guid id)
    {
        lock (_gate)
        {
            _failures.TryGetValue(id, out var attempts);
            _failures[id] = ++attempts;
            return attempts;
        }
    }

    private void Forget(Guid id)
    {
        lock (_gate)
        {
            if (_failures.Count > 0)
            {
                _failures.Remove(id);
            }
        }
    }
}
