namespace Outbox.PostgreSql.Cdc;

/// <summary>What the relay needs to know about the server before it starts: settings, privileges and the outbox table.</summary>
internal sealed record CdcServerFacts(
    string WalLevel,
    int MaxReplicationSlots,
    int MaxWalSenders,
    bool CanReplicate,
    string CurrentUser,
    string Database,
    bool TableExists);
