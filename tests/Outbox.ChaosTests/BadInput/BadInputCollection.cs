namespace Outbox.ChaosTests.BadInput;

[CollectionDefinition(Name)]
public sealed class BadInputCollection : ICollectionFixture<BadInputFixture>
{
    public const string Name = "Bad input";
}
