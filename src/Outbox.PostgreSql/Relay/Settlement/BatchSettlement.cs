using Outbox.Providers;

namespace Outbox.Relay;

/// <summary>
/// The settlement rule both relays share: given a batch in commit order and its delivery results, which rows are done
/// and which keys must wait. A key waits from its first row that is not acknowledged: that row and every later row of
/// the key in the batch stay (an acknowledged one among them is sent again after the first, so that the last copies keep
/// commit order), while the rows of every other key are done. A failed row counts against its record unless the failure
/// was transient.
/// </summary>
internal sealed class BatchSettlement
{
    private BatchSettlement(List<int> done, List<KeyFailure> failures, string? transientError, int transientRows)
    {
        Done = done;
        Failures = failures;
        TransientError = transientError;
        TransientRows = transientRows;
    }

    /// <summary>Gets the indexes of the rows that are done (acknowledged, and no earlier row of their key is not), in order.</summary>
    public List<int> Done { get; }

    /// <summary>Gets, per key, its first failed row when that failure counts against the record (record or permanent kind).</summary>
    public List<KeyFailure> Failures { get; }

    /// <summary>Gets the error of the first transient failure (the broker or the network), or <see langword="null"/>.</summary>
    public string? TransientError { get; }

    /// <summary>Gets how many rows failed transiently.</summary>
    public int TransientRows { get; }

    /// <summary>Gets whether every row is done.</summary>
    public bool Complete(int count) => Done.Count == count;

    /// <summary>The part of this settlement whose rows <paramref name="keep"/> accepts (by index in the batch).</summary>
    public BatchSettlement Restrict(Func<int, bool> keep)
    {
        ArgumentNullException.ThrowIfNull(keep);
        return new BatchSettlement(Done.Where(keep).ToList(), Failures.Where(f => keep(f.Index)).ToList(), TransientError, TransientRows);
    }

    public static BatchSettlement Settle(IReadOnlyList<OutboxRecord> messages, IReadOnlyList<PublishResult> results)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(results);
        var done = new List<int>(messages.Count);
        var failures = new List<KeyFailure>();
        HashSet<(string Type, string Id)>? waiting = null;
        string? transientError = null;
        var transientRows = 0;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var result = results[i];
            if (result.Status == PublishStatus.Acknowledged && (waiting is null || !waiting.Contains((message.AggregateType, message.AggregateId))))
            {
                done.Add(i);
                continue;
            }

            waiting ??= [];
            var firstOfKey = waiting.Add((message.AggregateType, message.AggregateId));
            if (result.Status != PublishStatus.Failed)
            {
                // Not attempted (behind a refused row), or acknowledged behind a row of its key that is not.
                continue;
            }

            if (result.Kind == PublishFailureKind.Transient)
            {
                transientRows++;
                transientError ??= result.Error ?? "transient failure";
            }
            else if (firstOfKey)
            {
                failures.Add(new KeyFailure(i, message, result.Error ?? "The record failed.", result.Kind == PublishFailureKind.Permanent));
            }
        }

        return new BatchSettlement(done, failures, transientError, transientRows);
    }
}

/// <summary>The first failed row of a key in a batch, when its failure counts against the record.</summary>
/// <param name="Index">Its position in the batch.</param>
/// <param name="Message">The row.</param>
/// <param name="Error">The error text.</param>
/// <param name="Permanent">Whether the record can never be published as it is (parked at once).</param>
internal readonly record struct KeyFailure(int Index, OutboxRecord Message, string Error, bool Permanent);

/// <summary>What the store recorded for a key's failure.</summary>
/// <param name="Attempts">The failed attempts of this event so far, this one included.</param>
/// <param name="Parked">Whether the key is parked now (until an operator replays or discards it).</param>
/// <param name="RetryIn">When not parked, how long until the key is tried again.</param>
internal readonly record struct KeyFailureOutcome(int Attempts, bool Parked, TimeSpan RetryIn);

/// <summary>How a relay retries a key whose event failed: the relay's MaxAttempts and backoff.</summary>
/// <param name="MaxAttempts">Failed attempts of one event after which its key is parked.</param>
/// <param name="BaseDelay">The delay after the first failure; it doubles per attempt (between half and all of it, at random).</param>
/// <param name="MaxDelay">The cap of the delay.</param>
internal readonly record struct KeyRetryPolicy(int MaxAttempts, TimeSpan BaseDelay, TimeSpan MaxDelay);
