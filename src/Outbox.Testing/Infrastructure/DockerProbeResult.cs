namespace Outbox.Testing;

/// <summary>Whether a Docker engine answered, and a line saying where or why not (for the log).</summary>
internal sealed record DockerProbeResult(bool IsAvailable, string Description);
