namespace Outbox.Testing;

/// <summary>Options for <see cref="KafkaServer.StartAsync"/>.</summary>
public sealed class KafkaServerOptions
{
    /// <summary>The default Docker image for <see cref="KafkaServerKind.Container"/>.</summary>
    public const string DefaultContainerImage = "confluentinc/cp-kafka:7.5.12";

    /// <summary>Gets or sets how many brokers the embedded cluster has (ids 1 to <see cref="Brokers"/>).</summary>
    /// <value>The default is 3. Only <see cref="KafkaServerKind.Embedded"/> honours it; a container has one broker.</value>
    public int Brokers { get; set; } = 3;

    /// <summary>Gets or sets the only kind of server to use, or <see langword="null"/> to choose automatically.</summary>
    /// <value>The default is <see langword="null"/>: <c>OUTBOX_TEST_KAFKA</c> when set, else a container when a Docker
    /// engine answers, else the embedded cluster. Fault-injection tests set <see cref="KafkaServerKind.Embedded"/>.</value>
    public KafkaServerKind? Kind { get; set; }

    /// <summary>Gets or sets a sink for progress lines: which kind was chosen, why, and how long the start took.</summary>
    /// <value>The default is <see langword="null"/> (no logging).</value>
    public Action<string>? Log { get; set; }

    /// <summary>Gets or sets the Docker image used for <see cref="KafkaServerKind.Container"/>.</summary>
    /// <value>The default is <see cref="DefaultContainerImage"/>.</value>
    public string ContainerImage { get; set; } = DefaultContainerImage;
}
