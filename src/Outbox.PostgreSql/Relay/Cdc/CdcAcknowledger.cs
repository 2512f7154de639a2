using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Turns the broker's results of a batch into progress with the settlement rule both relays share
/// (<see cref="BatchSettlement"/>): rows of other keys are done; a key whose event failed in a way that counts is
/// recorded in the parked-keys table (retrying or parked) and joins the session's held keys, and its failed row and
/// every later row of it are held. It also remembers the rows the broker acknowledged lately: a stream restarted after
/// a failure replays whole transactions from the confirmed position, and rows of them that are done are not sent again
/// (only a crash of the process can still repeat them).
/// </summary>
/// <remarks>
/// Rows are known by (id, commit position of their transaction), never by id alone: a released key's events and a
/// replayed dead letter are new inserts with the same id in a later transaction, and must be published, not mistaken
/// for a repeat of the transaction that inserted them first.
/// </remarks>
internal sealed class CdcAcknowledger
{
    private const int RememberedAcknowledgements = 65_536;
    private readonly Lock _gate = new();
    private readonly HashSet<(Guid Id, ulong CommitLsn)> _acknowledged = [];
    private readonly Queue<(Guid Id, ulong CommitLsn)> _acknowledgedOrder = new();
    private long _published;

    /// <summary>Gets how many rows the broker acknowledged since the relay started.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Counts rows acknowledged outside the stream (the backlog).</summary>
    public void CountPublished(int rows) => Interlocked.Add(ref _published, rows);

    /// <summary>
    /// Settles a batch: returns how many leading rows are settled, which of them to delete, the rows to send again (not
    /// attempted behind a refused row) or the transient error that ends the session.
    /// </summary>
    /// <param name="batch">The batch, with what the publisher did with each row.</param>
    /// <param name="results">The results of the rows sent, in order.</param>
    /// <param name="held">The session's held keys: read, and joined by the keys that fail here.</param>
    /// <param name="fail">Records a failure durably (ParkingStore.FailAsync) and returns whether the key is parked or retrying.</param>
    /// <param name="cancellationToken">Cancels the recording of failures.</param>
    public async Task<CdcBatchOutcome> SettleAsync(
        InFlightBatch batch, PublishResult[] results, CdcHeldKeys held, Func<KeyFailure, CancellationToken, Task<KeyFailureOutcome>> fail, CancellationToken cancellationToken)
    {
        var rows = batch.Rows;
        var actions = batch.Actions;
        var state = new RowState[rows.Count];

        // Rows sent whose key is held by now (its event failed in an earlier batch in flight) are held too, even when
        // acknowledged: they wait in the table and are sent again after the failed one when the key is released.
        var settled = new List<OutboxRecord>();
        var settledRows = new List<int>();
        for (var i = 0; i < rows.Count; i++)
        {
            switch (actions[i])
            {
                case CdcRowAction.Hold:
                    state[i] = RowState.Held;
                    break;
                case CdcRowAction.Skip:
                    state[i] = RowState.Skipped;
                    break;
                default:
                    if (held.Contains(rows[i].Message))
                    {
                        state[i] = RowState.Held;
                    }
                    else
                    {
                        settled.Add(rows[i].Message);
                        settledRows.Add(i);
                        state[i] = RowState.Unsettled;
                    }

                    break;
            }
        }

        var settledResults = new PublishResult[settled.Count];
        for (int i = 0, s = 0, k = 0; i < rows.Count; i++)
        {
            if (actions[i] != CdcRowAction.Send)
            {
                continue;
            }

            if (k < settledRows.Count && settledRows[k] == i)
            {
                settledResults[k++] = results[s];
            }

            s++;
        }

        var settlement = BatchSettlement.Settle(settled, settledResults);
        var acknowledged = 0;
        foreach (var index in settlement.Done)
        {
            var row = rows[settledRows[index]];
            state[settledRows[index]] = RowState.Done;
            if (RememberAcknowledged((row.Message.Id, row.CommitLsn)))
            {
                // Counted once: a replayed row Kafka already had is settled again without being sent.
                acknowledged++;
            }
        }

        var outcomes = new List<KeyFailureOutcome>(settlement.Failures.Count);
        foreach (var failure in settlement.Failures)
        {
            outcomes.Add(await fail(failure, cancellationToken).ConfigureAwait(false));
            held.Add(failure.Message);
        }

        var count = 0;
        var deletes = new List<Guid>();
        for (; count < rows.Count; count++)
        {
            if (state[count] == RowState.Unsettled)
            {
                if (!held.Contains(rows[count].Message))
                {
                    break;
                }

                state[count] = RowState.Held;
            }

            if (state[count] == RowState.Done)
            {
                deletes.Add(rows[count].Message.Id);
            }
        }

        // Behind a row the producer refused, the rows of other keys were not attempted: they go first in the next batch
        // (nothing later was handed over meanwhile). Any other row left unsettled ends the session.
        List<CdcRow>? carryOver = null;
        if (count < rows.Count && settlement.TransientError is null && batch.Refused)
        {
            carryOver = rows.GetRange(count, rows.Count - count);
        }

        Interlocked.Add(ref _published, acknowledged);
        return new CdcBatchOutcome
        {
            Settled = count,
            Deletes = deletes,
            CarryOver = carryOver,
            TransientError = count < rows.Count && carryOver is null ? settlement.TransientError ?? "a row was neither acknowledged nor failed" : null,
            Settlement = settlement,
            SettledMessages = settled,
            Outcomes = outcomes,
        };
    }

    /// <summary>
    /// Gets a value indicating whether this insert (the row's id in the transaction that committed at its position) was
    /// acknowledged lately (in this process).
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

    private enum RowState
    {
        Unsettled,
        Done,
        Held,
        Skipped,
    }
}
