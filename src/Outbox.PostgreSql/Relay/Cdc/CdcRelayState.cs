namespace Outbox.PostgreSql;

/// <summary>What the CDC relay of this process is doing.</summary>
public enum CdcRelayState
{
    /// <summary>The relay has not connected yet.</summary>
    Starting,

    /// <summary>The relay owns the slot and streams from it.</summary>
    Streaming,

    /// <summary>Another relay streams from the slot; this one waits to take over.</summary>
    Standby,

    /// <summary>The relay hit a failure (database or broker) and retries after a delay.</summary>
    Retrying,

    /// <summary>The relay cannot go on without an operator: the slot was invalidated, or the configuration is wrong.
    /// See <see cref="CdcRelayMonitor.LastError"/>.</summary>
    Faulted,

    /// <summary>The relay stopped with its host.</summary>
    Stopped,
}
