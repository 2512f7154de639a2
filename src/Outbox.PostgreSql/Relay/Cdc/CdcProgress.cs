namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Tracks what may be confirmed to the server. Rows are numbered in stream order as they are decoded; each commit
/// records how many rows were decoded when it arrived and its end position. Settled rows (acknowledged by the broker, or held in
/// the outbox table for a held key) arrive as a growing prefix of rows, so a commit's position may be confirmed once every row before it was settled. While
/// nothing is decoded-but-unacknowledged and no transaction is open, the stream's latest position may be confirmed too,
/// so an idle slot does not keep WAL.
/// </summary>
/// <remarks>Thread-safe: the stream reader, the acknowledgement loop and the flush loop share one instance per session.</remarks>
internal sealed class CdcProgress
{
    private readonly Lock _gate = new();
    private readonly Queue<(long Rows, ulong EndLsn)> _commits = new();
    private List<Guid> _pendingDeletes = [];
    private long _decoded;
    private long _acknowledged;
    private bool _inTransaction;
    private ulong _confirmable;
    private ulong _confirmed;

    public CdcProgress(ulong startLsn)
    {
        _confirmable = startLsn;
        _confirmed = startLsn;
    }

    /// <summary>Gets the rows decoded in this session.</summary>
    public long Decoded
    {
        get
        {
            lock (_gate)
            {
                return _decoded;
            }
        }
    }

    /// <summary>Gets the rows settled in this session (acknowledged, held or skipped), a prefix of <see cref="Decoded"/>.</summary>
    public long Acknowledged
    {
        get
        {
            lock (_gate)
            {
                return _acknowledged;
            }
        }
    }

    /// <summary>Gets the last position sent to the server as confirmed.</summary>
    public ulong Confirmed
    {
        get
        {
            lock (_gate)
            {
                return _confirmed;
            }
        }
    }

    public void Begin()
    {
        lock (_gate)
        {
            _inTransaction = true;
        }
    }

    public void RowDecoded()
    {
        lock (_gate)
        {
            _decoded++;
        }
    }

    public void Commit(ulong endLsn)
    {
        lock (_gate)
        {
            _inTransaction = false;
            if (_acknowledged >= _decoded)
            {
                // Nothing of this transaction (or before it) is waiting: confirmable at once.
                _confirmable = Math.Max(_confirmable, endLsn);
            }
            else
            {
                _commits.Enqueue((_decoded, endLsn));
            }
        }
    }

    /// <summary>
    /// Records that the next <paramref name="count"/> rows in stream order are settled (acknowledged, or held in the
    /// outbox table, or skipped as copies of a release), and which of them to delete from the table.
    /// </summary>
    public void Settle(int count, IReadOnlyList<Guid> deletes)
    {
        lock (_gate)
        {
            _pendingDeletes.AddRange(deletes);
            _acknowledged += count;
            while (_commits.Count > 0 && _commits.Peek().Rows <= _acknowledged)
            {
                _confirmable = Math.Max(_confirmable, _commits.Dequeue().EndLsn);
            }
        }
    }

    /// <summary>
    /// Takes the acknowledged rows to delete and the position to confirm once they are deleted. <paramref name="lastReceived"/>
    /// must be read from the connection <em>before</em> this call: if every decoded row is acknowledged and no transaction
    /// is open, every transaction that ended before that position was decoded, so the position is safe to confirm.
    /// </summary>
    public (List<Guid> Deletes, ulong Confirm) TakeFlush(ulong lastReceived)
    {
        lock (_gate)
        {
            var deletes = _pendingDeletes;
            _pendingDeletes = [];
            var confirm = _confirmable;
            if (!_inTransaction && _acknowledged == _decoded && _commits.Count == 0)
            {
                confirm = Math.Max(confirm, lastReceived);
                _confirmable = confirm;
            }

            return (deletes, confirm);
        }
    }

    /// <summary>Describes the counters, for diagnostics.</summary>
    public override string ToString()
    {
        lock (_gate)
        {
            return $"decoded {_decoded}, acknowledged {_acknowledged}, in transaction {_inTransaction}, commits waiting {_commits.Count}, " +
                   $"deletes pending {_pendingDeletes.Count}, confirmable {new NpgsqlTypes.NpgsqlLogSequenceNumber(_confirmable)}, confirmed {new NpgsqlTypes.NpgsqlLogSequenceNumber(_confirmed)}";
        }
    }

    /// <summary>Records that <paramref name="lsn"/> was sent to the server as confirmed.</summary>
    public void MarkConfirmed(ulong lsn)
    {
        lock (_gate)
        {
            _confirmed = Math.Max(_confirmed, lsn);
        }
    }
}
