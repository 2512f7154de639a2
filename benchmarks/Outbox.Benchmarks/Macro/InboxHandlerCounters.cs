namespace Outbox.Benchmarks.Macro;

/// <summary>Handler invocations and per-account order, shared by the no-op handlers of a run.</summary>
internal sealed class InboxHandlerCounters(int keys)
{
    private readonly long[] _lastSeq = Enumerable.Repeat(-1L, keys).ToArray();
    private long _invocations;
    private long _orderViolations;

    public long Invocations => Interlocked.Read(ref _invocations);

    public long OrderViolations => Interlocked.Read(ref _orderViolations);

    public void Handled(BenchEvent evt)
    {
        Interlocked.Increment(ref _invocations);
        var account = int.Parse(evt.AccountId.AsSpan(5), provider: System.Globalization.CultureInfo.InvariantCulture);

        // One partition is handled by one worker at a time, and an account always lands on the same partition.
        ref var last = ref _lastSeq[account];
        if (evt.Seq < Volatile.Read(ref last))
        {
            Interlocked.Increment(ref _orderViolations);
        }
        else
        {
            Volatile.Write(ref last, evt.Seq);
        }
    }
}
