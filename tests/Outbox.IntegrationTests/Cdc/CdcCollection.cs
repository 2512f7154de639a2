namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// The CDC and conformance test classes run one after another: replication slots and WAL senders are cluster-wide
/// (the shared server allows 10 of each), and each test's setup drops the slots earlier tests left behind, which is
/// only safe while no other test of the collection streams.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CdcCollection
{
    public const string Name = "CDC";
}
