namespace Outbox.PostgreSql;

/// <summary>The state of the CDC relay's replication slot, as <c>pg_replication_slots</c> reports it.</summary>
public sealed class CdcSlotStatus
{
    /// <summary>Gets the slot name.</summary>
    public required string SlotName { get; init; }

    /// <summary>Gets a value indicating whether the slot exists.</summary>
    public bool Exists { get; init; }

    /// <summary>Gets a value indicating whether a relay is streaming from the slot right now.</summary>
    public bool IsActive { get; init; }

    /// <summary>Gets the server process id of the connection streaming from the slot, when one is.</summary>
    public int? ActivePid { get; init; }

    /// <summary>Gets the slot's <c>wal_status</c>: <c>reserved</c>, <c>extended</c>, <c>unreserved</c> (WAL it needs will
    /// be removed at the next checkpoint unless the relay catches up) or <c>lost</c> (invalidated: its events after the
    /// confirmed position are gone from the WAL).</summary>
    public string? WalStatus { get; init; }

    /// <summary>Gets the position up to which the relay confirmed that every row was acknowledged by the broker.</summary>
    public string? ConfirmedFlushLsn { get; init; }

    /// <summary>Gets the oldest WAL position the slot keeps.</summary>
    public string? RestartLsn { get; init; }

    /// <summary>Gets how many bytes of WAL were written after the confirmed position: how far the relay is behind.</summary>
    public long? LagBytes { get; init; }

    /// <summary>Gets how many bytes of WAL the server keeps for the slot.</summary>
    public long? RetainedWalBytes { get; init; }

    /// <summary>Gets how many more bytes of WAL can be written before the slot is at risk of invalidation
    /// (<c>max_slot_wal_keep_size</c>), or <see langword="null"/> when there is no limit.</summary>
    public long? SafeWalSizeBytes { get; init; }

    /// <summary>Gets a value indicating whether the slot was invalidated (<c>wal_status = lost</c>).</summary>
    public bool IsLost => string.Equals(WalStatus, "lost", StringComparison.Ordinal);

    /// <summary>Gets the database the slot belongs to.</summary>
    internal string? Database { get; init; }

    /// <summary>Gets the slot's output plugin.</summary>
    internal string? Plugin { get; init; }

    /// <summary>Gets a value indicating whether the slot is a logical one.</summary>
    internal bool IsLogical { get; init; }

    /// <summary>Gets a value indicating whether the slot is temporary.</summary>
    internal bool IsTemporary { get; init; }
}
