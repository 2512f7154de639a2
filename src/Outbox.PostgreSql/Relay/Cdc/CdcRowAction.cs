namespace Outbox.PostgreSql.Cdc;

/// <summary>What a replication session does with a decoded row, decided when its batch is formed.</summary>
internal enum CdcRowAction
{
    /// <summary>Hand it to the producer.</summary>
    Send,

    /// <summary>Its key is held: leave it in the outbox table (a release inserts it again), settled for the confirmed position.</summary>
    Hold,

    /// <summary>Its key was released after it committed: the release inserted it again (or discarded it); neither publish nor delete it.</summary>
    Skip,
}
