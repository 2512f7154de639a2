using System.Threading.Channels;

namespace Outbox.Relay;

/// <summary>
/// The lanes this instance holds and which of them need draining. A lane is queued at most once and drained by one
/// worker at a time, so its rows stay in order; a notification that arrives while it drains queues it again afterwards.
/// A lane waiting for a retry ignores notifications until its time comes.
/// </summary>
internal sealed class LaneScheduler(TimeProvider timeProvider)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, Slot> _slots = [];

    // Lanes with a drain in progress, even one whose lease was lost meanwhile: a lane is never drained twice at once.
    private readonly HashSet<int> _busy = [];
    private readonly Channel<int> _ready = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private int _running;
    private long _nextCycleAt;

    private enum State
    {
        Idle,
        Queued,
        Running,
        Waiting,
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _slots.Count;
            }
        }
    }

    public int Running => Volatile.Read(ref _running);

    public IReadOnlyList<LaneLease> Leases()
    {
        lock (_gate)
        {
            return _slots.Values.Select(s => s.Lease).OrderBy(l => l.Lane).ToList();
        }
    }

    public bool Holds(int lane)
    {
        lock (_gate)
        {
            return _slots.ContainsKey(lane);
        }
    }

    /// <summary>Returns whether this exact lease (lane and epoch) is still held.</summary>
    public bool Holds(LaneLease lease)
    {
        lock (_gate)
        {
            return _slots.TryGetValue(lease.Lane, out var slot) && slot.Lease == lease;
        }
    }

    /// <summary>Adds (or replaces, after a re-acquisition) a lease and queues the lane: rows may be waiting.</summary>
    public void Add(LaneLease lease)
    {
        lock (_gate)
        {
            if (_slots.TryGetValue(lease.Lane, out var existing))
            {
                existing.Lease = lease;
                Queue(existing);
                return;
            }

            var slot = new Slot(lease);
            _slots.Add(lease.Lane, slot);
            Queue(slot);
        }
    }

    /// <summary>Drops a lane whose lease was lost; a drain in progress finishes on its own and is then ignored.</summary>
    public void Remove(int lane)
    {
        lock (_gate)
        {
            if (_slots.Remove(lane, out var slot))
            {
                slot.Timer?.Dispose();
            }
        }
    }

    /// <summary>Drops every lane (all leases lost).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            foreach (var slot in _slots.Values)
            {
                slot.Timer?.Dispose();
            }

            _slots.Clear();
        }
    }

    /// <summary>Removes a lane to give it back, unless a worker is draining it right now.</summary>
    public bool TryDetach(int lane, out LaneLease lease)
    {
        lock (_gate)
        {
            if (_slots.TryGetValue(lane, out var slot) && slot.State != State.Running)
            {
                slot.Timer?.Dispose();
                _slots.Remove(lane);
                lease = slot.Lease;
                return true;
            }

            lease = default;
            return false;
        }
    }

    /// <summary>Lanes that no worker is draining right now, least busy first (idle, then waiting, then queued).</summary>
    public IReadOnlyList<int> DetachCandidates()
    {
        lock (_gate)
        {
            return _slots.Values
                .Where(s => s.State != State.Running)
                .OrderBy(s => s.State switch { State.Idle => 0, State.Waiting => 1, _ => 2 })
                .ThenByDescending(s => s.Lease.Lane)
                .Select(s => s.Lease.Lane)
                .ToList();
        }
    }

    /// <summary>Rows were committed to the lane (a notification or the poll).</summary>
    public void Signal(int lane)
    {
        lock (_gate)
        {
            if (_slots.TryGetValue(lane, out var slot))
            {
                Signal(slot);
            }
        }
    }

    public void SignalAll()
    {
        lock (_gate)
        {
            foreach (var slot in _slots.Values)
            {
                Signal(slot);
            }
        }
    }

    /// <summary>Waits for the next lane to drain and marks it running. Throws <see cref="ChannelClosedException"/> after <see cref="Complete"/>.</summary>
    public async ValueTask<LaneLease> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var lane = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (TryStart(lane, out var lease))
            {
                return lease;
            }
        }
    }

    /// <summary>
    /// Waits for the next lane to drain, then takes every other queued lane too, up to <paramref name="max"/> in all
    /// (one drain cycle claims and settles them together), and marks them running.
    /// </summary>
    /// <param name="max">The most lanes to take.</param>
    /// <param name="linger">The least time between the starts of two cycles (of any worker): a cycle that would start
    /// sooner waits for the rest of it, and so gathers the lanes queued meanwhile. A cycle after a quiet spell starts at once.</param>
    /// <param name="cancellationToken">Stops waiting for a lane.</param>
    public async ValueTask<IReadOnlyList<LaneLease>> TakeManyAsync(int max, TimeSpan linger, CancellationToken cancellationToken)
    {
        var leases = new List<LaneLease> { await TakeAsync(cancellationToken).ConfigureAwait(false) };
        if (linger > TimeSpan.Zero)
        {
            var now = timeProvider.GetTimestamp();
            var interval = (long)(linger.TotalSeconds * timeProvider.TimestampFrequency);
            long startAt;
            lock (_gate)
            {
                startAt = Math.Max(now, _nextCycleAt);
                _nextCycleAt = startAt + interval;
            }

            if (startAt > now)
            {
                try
                {
                    await Task.Delay(timeProvider.GetElapsedTime(now, startAt), timeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopping: drain what was taken (the graceful stop lets the cycle in flight finish).
                }
            }
        }

        while (leases.Count < max && _ready.Reader.TryRead(out var lane))
        {
            if (TryStart(lane, out var lease))
            {
                leases.Add(lease);
            }
        }

        return leases;
    }

    /// <summary>Marks a queued lane running without waiting (for tests and single-step drivers).</summary>
    public bool TryStart(int lane, out LaneLease lease)
    {
        lock (_gate)
        {
            if (_slots.TryGetValue(lane, out var slot) && slot.State == State.Queued)
            {
                if (!_busy.Add(lane))
                {
                    // An older drain of this lane (under a lost lease) is still running: start when it ends.
                    slot.Deferred = true;
                    lease = default;
                    return false;
                }

                slot.State = State.Running;
                slot.Dirty = false;
                _running++;
                lease = slot.Lease;
                return true;
            }

            lease = default;
            return false;
        }
    }

    /// <summary>Records the outcome of a drain of <paramref name="lease"/> and schedules the lane accordingly.</summary>
    public void Finished(LaneLease lease, DrainOutcome outcome)
    {
        lock (_gate)
        {
            _running--;
            _busy.Remove(lease.Lane);
            if (!_slots.TryGetValue(lease.Lane, out var slot))
            {
                // Removed meanwhile (lease lost or given back).
                return;
            }

            if (slot.State != State.Running)
            {
                // Removed and acquired again meanwhile: the new slot may have been waiting for this drain to end.
                if (slot.State == State.Queued && slot.Deferred)
                {
                    slot.Deferred = false;
                    _ready.Writer.TryWrite(lease.Lane);
                }

                return;
            }

            slot.State = State.Idle;
            if (slot.Lease != lease)
            {
                // Re-acquired with a new epoch while this drain ran: start over under the new lease.
                Queue(slot);
                return;
            }

            switch (outcome.Kind)
            {
                case DrainOutcomeKind.More:
                    Queue(slot);
                    break;
                case DrainOutcomeKind.Idle:
                    if (slot.Dirty)
                    {
                        Queue(slot);
                    }

                    break;
                case DrainOutcomeKind.RetryLater:
                    slot.State = State.Waiting;
                    slot.Timer?.Dispose();
                    slot.Timer = timeProvider.CreateTimer(_ => Wake(slot), null, outcome.Delay, Timeout.InfiniteTimeSpan);
                    break;
                case DrainOutcomeKind.LeaseLost:
                    slot.Timer?.Dispose();
                    _slots.Remove(lease.Lane);
                    break;
            }
        }
    }

    /// <summary>Stops handing out lanes: <see cref="TakeAsync"/> throws once the queue is empty.</summary>
    public void Complete() => _ready.Writer.TryComplete();

    private void Wake(Slot slot)
    {
        lock (_gate)
        {
            if (slot.State == State.Waiting && _slots.TryGetValue(slot.Lease.Lane, out var current) && ReferenceEquals(current, slot))
            {
                Queue(slot);
            }
        }
    }

    private void Signal(Slot slot)
    {
        // A lane waiting for a retry keeps waiting: new rows queue behind the failed one anyway.
        if (slot.State != State.Waiting)
        {
            Queue(slot);
        }
    }

    private void Queue(Slot slot)
    {
        switch (slot.State)
        {
            case State.Queued:
                return;
            case State.Running:
                slot.Dirty = true;
                return;
            default:
                slot.Timer?.Dispose();
                slot.Timer = null;
                slot.Dirty = false;
                slot.State = State.Queued;
                _ready.Writer.TryWrite(slot.Lease.Lane);
                return;
        }
    }

    private sealed class Slot(LaneLease lease)
    {
        public LaneLease Lease { get; set; } = lease;

        public State State { get; set; } = State.Idle;

        public bool Dirty { get; set; }

        public bool Deferred { get; set; }

        public ITimer? Timer { get; set; }
    }
}
