namespace Outbox.Inbox;

/// <summary>Why a record is in the inbox's parked table (besides the <see cref="DeadLetterReason"/> values).</summary>
internal static class ParkReason
{
    /// <summary>The database refused the record's transaction for a reason about the record itself (data or integrity error).</summary>
    public const string Rejected = "rejected";

    /// <summary>Held behind the parked record of its key.</summary>
    public const string KeyParked = "key-parked";
}
