namespace Outbox.Relay;

/// <summary>
/// Producer defaults a relay asks of the transport (configured by the relay's registration, read by the transport's
/// publisher). Settings the application gives the transport itself always win.
/// </summary>
internal sealed class PublisherDefaults
{
    /// <summary>Gets or sets the producer's <c>linger.ms</c> when the application does not set it; <see langword="null"/>: the transport's own default.</summary>
    public int? LingerMs { get; set; }
}
