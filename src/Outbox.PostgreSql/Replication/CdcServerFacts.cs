namespace Outbox.PostgreSql.Replication;

/// <summary>What the relay needs to know about the server before it starts: settings, privileges, the outbox table and the relay's own tables.</summary>
internal sealed record CdcServerFacts(
    string WalLevel,
    int MaxReplicationSlots,
    int MaxWalSenders,
    bool CanReplicate,
    string CurrentUser,
    string Database,
    bool TableExists,
    bool RelayTablesExist,
    bool TrackCommitTimestamp)
{
    /// <summary>Gets a value indicating whether <see cref="CanReplicate"/> and <see cref="CurrentUser"/> are those of
    /// <see cref="PostgreSqlOutboxOptions.ReplicationConnectionString"/>'s role rather than the data source's.</summary>
    public bool ReplicationRoleSeparate { get; init; }
}
