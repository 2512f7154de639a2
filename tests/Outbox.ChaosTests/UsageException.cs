namespace Outbox.ChaosTests;

/// <summary>A command line the runner does not understand.</summary>
public sealed class UsageException(string message) : Exception(message);
