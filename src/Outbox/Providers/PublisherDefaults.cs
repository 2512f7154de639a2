namespace Outbox.Providers;

/// <summary>
/// Producer defaults a relay asks of the transport (configured by the relay's registration, read by the transport's
/// publisher). Settings the application gives the transport itself always win.
/// For provider packages; applications do not use this (they set the transport's own options).
/// </summary>
public sealed class PublisherDefaults
{
    /// <summary>Gets or sets the producer's <c>linger.ms</c> when the application does not set it; <see langword="null"/>: the transport's own default.</summary>
    public int? LingerMs { get; set; }
}
