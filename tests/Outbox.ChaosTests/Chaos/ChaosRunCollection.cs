namespace Outbox.ChaosTests.Chaos;

/// <summary>The chaos run starts about ten processes on what may be a two-core machine: it runs alone, after the other tests of this assembly.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosRunCollection
{
    public const string Name = "Chaos run";
}
