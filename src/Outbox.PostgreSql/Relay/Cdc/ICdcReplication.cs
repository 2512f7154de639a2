namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// What one iteration of the CDC relay does against PostgreSQL: the seam between <see cref="CdcRelay"/>'s decisions
/// (stream, stand by, fault, retry with backoff) and the server. <see cref="CdcReplication"/> in production; a fake in
/// the engine's unit tests.
/// </summary>
internal interface ICdcReplication
{
    /// <summary>Gets whether the last <see cref="SetUpAndStreamAsync"/> published anything (backlog or stream), even if it then failed.</summary>
    bool MadeProgress { get; }

    /// <summary>Gets the progress of the current (or last) replication session, for diagnostics.</summary>
    CdcProgress? SessionProgress { get; }

    /// <summary>Gets the payload bytes the current (or last) session holds decoded and not settled, now and at most.</summary>
    (long Now, long Peak)? SessionBytesInFlight { get; }

    /// <summary>The checks at host start: the server's settings, the publication and the slot.</summary>
    /// <exception cref="OutboxConfigurationException">The server cannot run the relay; the message names the setting.</exception>
    /// <exception cref="CdcSlotLostException">The slot is lost.</exception>
    Task CheckAsync(CancellationToken cancellationToken);

    /// <summary>Sets up the publication and the slot, publishes the backlog and streams, until stopped or failed.</summary>
    /// <param name="streaming">Called when the stream starts (after the backlog).</param>
    /// <param name="cancellationToken">Stops the stream.</param>
    /// <exception cref="CdcSlotBusyException">Another instance streams the slot (or sets it up).</exception>
    Task SetUpAndStreamAsync(Action streaming, CancellationToken cancellationToken);

    /// <summary>Why the slot is lost; <see langword="null"/> when it is not, or when the server cannot be asked.</summary>
    Task<string?> LostSlotAsync(CancellationToken cancellationToken);
}
