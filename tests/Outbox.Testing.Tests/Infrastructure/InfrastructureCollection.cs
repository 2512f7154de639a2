namespace Outbox.Testing.Tests;

/// <summary>The test classes that share <see cref="InfrastructureFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<InfrastructureFixture>
{
    public const string Name = "Shared infrastructure";
}
