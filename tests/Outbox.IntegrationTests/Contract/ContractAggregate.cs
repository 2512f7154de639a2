namespace Outbox.IntegrationTests.Contract;

/// <summary>
/// The aggregate of the contract tests: every transaction that writes an event of a key also bumps the key's version
/// under the row lock, so versions count each key's events in commit order (the order Kafka must keep).
/// </summary>
public sealed class ContractAggregate
{
    public string Id { get; set; } = "";

    public int Version { get; set; }
}
