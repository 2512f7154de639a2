namespace Outbox.IntegrationTests.Contract;

/// <summary>
/// What a contract test asks of a relay, in terms every relay understands; each driver maps it onto its relay's own
/// options. Unset values keep the driver's test defaults (short delays, the library's defaults otherwise).
/// </summary>
public sealed record RelayContractSettings
{
    public static readonly RelayContractSettings Default = new();

    /// <summary>Attempts before an event is given up on (dead-lettered today; parked once issue 15 lands).</summary>
    public int? MaxAttempts { get; init; }

    public TimeSpan? InitialRetryDelay { get; init; }

    public TimeSpan? MaxRetryDelay { get; init; }

    /// <summary>
    /// The producer's <c>message.max.bytes</c>. With a small value, one chosen event (written with a payload above it,
    /// see <see cref="RelayContractDriver.PayloadOver"/>) is refused by the producer: a poison event that fails at
    /// every attempt while every other event goes through.
    /// </summary>
    public int? ProducerMessageMaxBytes { get; init; }

    /// <summary>The producer's <c>message.timeout.ms</c>: how long a record waits for unreachable brokers before it fails.</summary>
    public TimeSpan? ProducerMessageTimeout { get; init; }
}
