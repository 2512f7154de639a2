using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Testcontainers.Kafka;

namespace Outbox.Testing;

/// <summary>
/// Kafka brokers for tests, benchmarks and samples that every Confluent.Kafka client (in this or any other process)
/// uses through <see cref="BootstrapServers"/>.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="StartAsync"/> chooses, in this order: the brokers named by the <c>OUTBOX_TEST_KAFKA</c> environment
/// variable; a Testcontainers Kafka container when a Docker engine answers; else librdkafka's mock cluster, started
/// inside this process in a few milliseconds. The mock speaks the real Kafka protocol: produce and fetch, several
/// partitions, idempotent producers, consumer groups (classic and KIP-848) and offset commits work. Several embedded
/// clusters can run in one process.
/// </para>
/// <para>
/// Only the embedded cluster supports fault injection (<see cref="SetBrokerDown"/>, <see cref="PushRequestErrors"/>,
/// <see cref="SetRtt"/>, ...): on the other kinds those methods throw <see cref="NotSupportedException"/>.
/// </para>
/// <para>
/// Limits of the embedded cluster: each partition keeps only about 5 MiB or 100,000 message sets, and older records
/// are dropped silently, so a large test must use enough partitions and consume while it produces. AdminClient
/// <c>CreateTopics</c> is not supported (use <see cref="CreateTopicAsync"/>; producers also auto-create topics
/// with 4 partitions); <c>ListConsumerGroups</c> crashes the client process; transactions are accepted but not
/// enforced: <c>read_committed</c> does not hide aborted or open transactions' records, and a new producer with the
/// same <c>transactional.id</c> does not fence the previous one (see the package README). Use a short <c>session.timeout.ms</c> in consumers: classic
/// rebalances wait for it.
/// </para>
/// </remarks>
public sealed class KafkaServer : IAsyncDisposable
{
    /// <summary>The environment variable that names existing brokers: <c>OUTBOX_TEST_KAFKA</c>.</summary>
    public const string EnvironmentVariable = "OUTBOX_TEST_KAFKA";

    private static readonly TimeSpan s_adminTimeout = TimeSpan.FromSeconds(30);

    private readonly EmbeddedKafkaCluster? _embedded;
    private readonly KafkaContainer? _container;
    private int _disposed;

    internal KafkaServer(KafkaServerKind kind, string bootstrapServers, int brokers, EmbeddedKafkaCluster? embedded, KafkaContainer? container)
    {
        Kind = kind;
        BootstrapServers = bootstrapServers;
        Brokers = brokers;
        _embedded = embedded;
        _container = container;
    }

    /// <summary>Gets where these brokers come from.</summary>
    public KafkaServerKind Kind { get; }

    /// <summary>Gets the bootstrap servers to give clients, such as <c>127.0.0.1:40123,127.0.0.1:40125</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>Gets the number of brokers; their ids run from 1 to this number on the embedded cluster.</summary>
    public int Brokers { get; }

    /// <summary>Starts (or connects to) Kafka brokers.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token to cancel the start.</param>
    /// <returns>The running server; dispose it to stop it.</returns>
    /// <exception cref="InvalidOperationException">The chosen brokers could not be started or reached.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="KafkaServerOptions.Brokers"/> is not between 1 and 64.</exception>
    public static Task<KafkaServer> StartAsync(KafkaServerOptions? options = null, CancellationToken cancellationToken = default) =>
        StartCoreAsync(options, Environment.GetEnvironmentVariable, cancellationToken);

    /// <summary>Starts brokers, reading environment variables through <paramref name="environment"/> (tests fake it).</summary>
    internal static async Task<KafkaServer> StartCoreAsync(
        KafkaServerOptions? options, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        options ??= new KafkaServerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Brokers, 1, "options.Brokers");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Brokers, 64, "options.Brokers");
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ContainerImage, "options.ContainerImage");
        var started = Stopwatch.GetTimestamp();
        var notChosen = new List<string>();
        var server = await TryEnvironmentAsync(options, environment, notChosen, cancellationToken).ConfigureAwait(false)
                     ?? await TryContainerAsync(options, notChosen, cancellationToken).ConfigureAwait(false)
                     ?? StartEmbedded(options, notChosen);
        options.Log?.Invoke(string.Create(
            CultureInfo.InvariantCulture,
            $"Kafka: {server.Kind} with {server.Brokers} broker(s) at {server.BootstrapServers} ready in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms."));
        return server;
    }

    /// <summary>Creates a topic on any kind of server (the embedded cluster directly, real brokers through an AdminClient).</summary>
    /// <param name="name">The topic name.</param>
    /// <param name="partitions">The number of partitions.</param>
    /// <param name="replicationFactor">The replication factor; at most <see cref="Brokers"/>.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>A task that completes when the topic exists.</returns>
    /// <exception cref="KafkaException">The brokers refused, for example because the topic exists.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public async Task CreateTopicAsync(string name, int partitions, int replicationFactor = 1, CancellationToken cancellationToken = default)
    {
        ValidateTopic(name, partitions, replicationFactor);
        if (_embedded is not null)
        {
            _embedded.CreateTopic(name, partitions, replicationFactor);
            return;
        }

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        try
        {
            await admin.CreateTopicsAsync(
                    [new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = (short)replicationFactor }],
                    new CreateTopicsOptions { OperationTimeout = s_adminTimeout, RequestTimeout = s_adminTimeout })
                .WaitAsync(cancellationToken)
                .ConfigureAwait(false);
        }
        catch (CreateTopicsException exception)
        {
            throw new KafkaException(exception.Results[0].Error);
        }
    }

    /// <summary>Creates a topic on the embedded cluster, synchronously.</summary>
    /// <param name="name">The topic name.</param>
    /// <param name="partitions">The number of partitions.</param>
    /// <param name="replicationFactor">The replication factor; at most <see cref="Brokers"/>.</param>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>; use
    /// <see cref="CreateTopicAsync"/>, which works on every kind.</exception>
    /// <exception cref="KafkaException">The cluster refused, for example because the topic exists.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        ValidateTopic(name, partitions, replicationFactor);
        Embedded(nameof(CreateTopic), "use CreateTopicAsync, which works on every kind").CreateTopic(name, partitions, replicationFactor);
    }

    /// <summary>Takes a broker of the embedded cluster down: it closes its connections and refuses new ones.</summary>
    /// <param name="brokerId">The broker id, from 1 to <see cref="Brokers"/>.</param>
    /// <remarks>Partitions it leads do not move to another broker: their clients wait and retry until it is up again.</remarks>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="brokerId"/> is not a broker of this cluster.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void SetBrokerDown(int brokerId)
    {
        var cluster = Embedded(nameof(SetBrokerDown));
        ValidateBroker(brokerId);
        cluster.SetBrokerDown(brokerId);
    }

    /// <summary>Brings a broker of the embedded cluster up again.</summary>
    /// <param name="brokerId">The broker id, from 1 to <see cref="Brokers"/>.</param>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="brokerId"/> is not a broker of this cluster.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void SetBrokerUp(int brokerId)
    {
        var cluster = Embedded(nameof(SetBrokerUp));
        ValidateBroker(brokerId);
        cluster.SetBrokerUp(brokerId);
    }

    /// <summary>Takes every broker of the embedded cluster down.</summary>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void SetAllBrokersDown()
    {
        var cluster = Embedded(nameof(SetAllBrokersDown));
        for (var brokerId = 1; brokerId <= Brokers; brokerId++)
        {
            cluster.SetBrokerDown(brokerId);
        }
    }

    /// <summary>Brings every broker of the embedded cluster up.</summary>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void SetAllBrokersUp()
    {
        var cluster = Embedded(nameof(SetAllBrokersUp));
        for (var brokerId = 1; brokerId <= Brokers; brokerId++)
        {
            cluster.SetBrokerUp(brokerId);
        }
    }

    /// <summary>
    /// Makes the next requests of one type fail: the n-th matching request (to any broker) gets the n-th error, then
    /// requests succeed again. Use <see cref="ErrorCode.NoError"/> to let one request through in the sequence.
    /// </summary>
    /// <param name="apiKey">The request type, such as <see cref="KafkaApiKey.Produce"/>.</param>
    /// <param name="errors">The errors to answer with, in order, such as <see cref="ErrorCode.NotLeaderForPartition"/>.</param>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="errors"/> is empty.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void PushRequestErrors(KafkaApiKey apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var cluster = Embedded(nameof(PushRequestErrors));
        if (errors.Length == 0)
        {
            throw new ArgumentException("Give at least one error.", nameof(errors));
        }

        var codes = new int[errors.Length];
        for (var i = 0; i < errors.Length; i++)
        {
            codes[i] = (int)errors[i];
        }

        cluster.PushRequestErrors(checked((short)apiKey), codes);
    }

    /// <summary>Forgets the errors pushed by <see cref="PushRequestErrors"/> for one request type that were not used yet.</summary>
    /// <param name="apiKey">The request type.</param>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void ClearRequestErrors(KafkaApiKey apiKey) =>
        Embedded(nameof(ClearRequestErrors)).ClearRequestErrors(checked((short)apiKey));

    /// <summary>Delays every response of one broker of the embedded cluster by <paramref name="rtt"/>.</summary>
    /// <param name="brokerId">The broker id, from 1 to <see cref="Brokers"/>.</param>
    /// <param name="rtt">The added round-trip time; <see cref="TimeSpan.Zero"/> removes it.</param>
    /// <exception cref="NotSupportedException">The server is not <see cref="KafkaServerKind.Embedded"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="brokerId"/> is not a broker of this cluster, or
    /// <paramref name="rtt"/> is negative or longer than <see cref="int.MaxValue"/> milliseconds.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public void SetRtt(int brokerId, TimeSpan rtt)
    {
        var cluster = Embedded(nameof(SetRtt));
        ValidateBroker(brokerId);
        ArgumentOutOfRangeException.ThrowIfLessThan(rtt, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rtt, TimeSpan.FromMilliseconds(int.MaxValue));
        cluster.SetRtt(brokerId, (int)rtt.TotalMilliseconds);
    }

    /// <summary>Stops the embedded cluster or the container; calling it again does nothing.</summary>
    /// <returns>A task that completes when the brokers are stopped.</returns>
    /// <remarks>Dispose clients of the embedded cluster first: once it is gone they only see connection errors.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _embedded?.Dispose();
        if (_container is not null)
        {
            await _container.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<KafkaServer?> TryEnvironmentAsync(
        KafkaServerOptions options, Func<string, string?> environment, List<string> notChosen, CancellationToken cancellationToken)
    {
        if (options.Kind is not (null or KafkaServerKind.Environment))
        {
            return null;
        }

        var bootstrapServers = environment(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(bootstrapServers))
        {
            if (options.Kind is KafkaServerKind.Environment)
            {
                throw new InvalidOperationException(
                    $"KafkaServerOptions.Kind is Environment, but {EnvironmentVariable} is not set: set it to the bootstrap servers of a Kafka cluster.");
            }

            notChosen.Add($"{EnvironmentVariable} is not set");
            return null;
        }

        bootstrapServers = bootstrapServers.Trim();
        options.Log?.Invoke($"Kafka: using the brokers named by {EnvironmentVariable}: {bootstrapServers}.");
        var brokers = await CountBrokersAsync(bootstrapServers, cancellationToken).ConfigureAwait(false);
        return new KafkaServer(KafkaServerKind.Environment, bootstrapServers, brokers, embedded: null, container: null);
    }

    private static async Task<KafkaServer?> TryContainerAsync(KafkaServerOptions options, List<string> notChosen, CancellationToken cancellationToken)
    {
        if (options.Kind is not (null or KafkaServerKind.Container))
        {
            return null;
        }

        var docker = await DockerProbe.DetectAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!docker.IsAvailable)
        {
            if (options.Kind is KafkaServerKind.Container)
            {
                throw new InvalidOperationException($"KafkaServerOptions.Kind is Container, but {docker.Description}.");
            }

            notChosen.Add(docker.Description);
            return null;
        }

        options.Log?.Invoke($"Kafka: {docker.Description}; starting container {options.ContainerImage} (one broker).");
        var container = new KafkaBuilder(options.ContainerImage).Build();
        try
        {
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (options.Kind is null && !cancellationToken.IsCancellationRequested)
        {
            await container.DisposeAsync().ConfigureAwait(false);
            notChosen.Add($"the container failed to start ({exception.GetType().Name}: {exception.Message})");
            options.Log?.Invoke($"Kafka: the container failed to start, using the embedded cluster: {exception.Message}");
            return null;
        }
        catch
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new KafkaServer(KafkaServerKind.Container, container.GetBootstrapAddress(), brokers: 1, embedded: null, container);
    }

    private static KafkaServer StartEmbedded(KafkaServerOptions options, List<string> notChosen)
    {
        if (notChosen.Count > 0)
        {
            options.Log?.Invoke($"Kafka: starting librdkafka's embedded mock cluster ({string.Join("; ", notChosen)}).");
        }

        var cluster = EmbeddedKafkaCluster.Start(options.Brokers);
        options.Log?.Invoke($"Kafka: librdkafka {Library.VersionString} from {cluster.LibraryPath}.");
        return new KafkaServer(KafkaServerKind.Embedded, cluster.BootstrapServers, cluster.Brokers, cluster, container: null);
    }

    private static async Task<int> CountBrokersAsync(string bootstrapServers, CancellationToken cancellationToken)
    {
        // GetMetadata blocks; run it off the caller's thread. It also proves the brokers answer.
        return await Task.Run(
                () =>
                {
                    using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
                    try
                    {
                        return admin.GetMetadata(s_adminTimeout).Brokers.Count;
                    }
                    catch (KafkaException exception)
                    {
                        throw new InvalidOperationException(
                            $"The Kafka brokers named by {EnvironmentVariable} ({bootstrapServers}) did not answer: {exception.Message}", exception);
                    }
                },
                cancellationToken)
            .ConfigureAwait(false);
    }

    private EmbeddedKafkaCluster Embedded(string operation, string? alternative = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _embedded ?? throw new NotSupportedException(
            $"{operation} works only on the embedded Kafka cluster, but this server is of kind {Kind}" +
            (alternative is null
                ? ". Start it with KafkaServerOptions.Kind = KafkaServerKind.Embedded for fault-injection tests."
                : $": {alternative}."));
    }

    private void ValidateBroker(int brokerId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerId, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(brokerId, Brokers);
    }

    private void ValidateTopic(string name, int partitions, int replicationFactor)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicationFactor, Brokers);
    }
}
