namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Bounds the payload bytes a replication session has decoded and not yet settled (<see cref="CdcRelayOptions.MaxBytesInFlight"/>).
/// The reader takes a row's bytes before queueing it and waits while they do not fit; the settler gives them back. A row
/// larger than the whole budget is taken once nothing else is, so it goes alone.
/// </summary>
internal sealed class CdcByteBudget(long limit)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _used;
    private long _peak;

    /// <summary>Gets the bytes taken now.</summary>
    public long Used
    {
        get
        {
            lock (_gate)
            {
                return _used;
            }
        }
    }

    /// <summary>Gets the most bytes taken at once so far (diagnostics and tests).</summary>
    public long Peak
    {
        get
        {
            lock (_gate)
            {
                return _peak;
            }
        }
    }

    /// <summary>Takes <paramref name="bytes"/>, waiting while they do not fit (a row that never fits waits until nothing else is taken).</summary>
    public async ValueTask TakeAsync(long bytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task released;
            lock (_gate)
            {
                if (_used == 0 || _used + bytes <= limit)
                {
                    _used += bytes;
                    _peak = Math.Max(_peak, _used);
                    return;
                }

                released = _released.Task;
            }

            await released.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Gives back <paramref name="bytes"/> and wakes a waiting reader.</summary>
    public void Give(long bytes)
    {
        if (bytes == 0)
        {
            return;
        }

        TaskCompletionSource released;
        lock (_gate)
        {
            _used -= bytes;
            released = _released;
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        released.TrySetResult();
    }
}
