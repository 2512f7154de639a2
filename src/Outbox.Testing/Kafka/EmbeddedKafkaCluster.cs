using System.Globalization;
using Confluent.Kafka;

namespace Outbox.Testing;

/// <summary>
/// librdkafka's in-process mock cluster: a <c>rd_kafka_t</c> handle that owns it, and the cluster with its brokers
/// listening on 127.0.0.1.
/// </summary>
internal sealed class EmbeddedKafkaCluster : IDisposable
{
    private readonly LibrdkafkaNative _native;
    private readonly Lock _gate = new();
    private nint _handle;
    private nint _cluster;

    private EmbeddedKafkaCluster(LibrdkafkaNative native, nint handle, nint cluster, int brokers)
    {
        _native = native;
        _handle = handle;
        _cluster = cluster;
        Brokers = brokers;
        BootstrapServers = native.MockClusterBootstraps(cluster);
    }

    public int Brokers { get; }

    public string BootstrapServers { get; }

    public string LibraryPath => _native.LibraryPath;

    public static EmbeddedKafkaCluster Start(int brokers)
    {
        var native = LibrdkafkaNative.Instance;
        var handle = native.CreateHandle(
        [
            new("client.id", "outbox-testing-embedded-kafka"),
            // The owning handle never connects anywhere; keep its own chatter (and the mock's) to real problems.
            new("log_level", "3"),
        ]);
        var cluster = native.MockClusterNew(handle, brokers);
        if (cluster == 0)
        {
            native.DestroyHandle(handle);
            throw new InvalidOperationException(
                string.Create(CultureInfo.InvariantCulture, $"rd_kafka_mock_cluster_new could not start {brokers} brokers."));
        }

        // Admin calls hang without a controller; a first group join waits 3 s without this.
        native.MockSetControllerId(cluster, 1);
        native.MockGroupInitialRebalanceDelay(cluster, 0);
        return new EmbeddedKafkaCluster(native, handle, cluster, brokers);
    }

    public void CreateTopic(string name, int partitions, int replicationFactor)
    {
        lock (_gate)
        {
            Check(_native.MockTopicCreate(Cluster(), name, partitions, replicationFactor), $"create topic '{name}'");
        }
    }

    public void SetBrokerDown(int brokerId)
    {
        lock (_gate)
        {
            Check(_native.MockBrokerSetDown(Cluster(), brokerId), $"take broker {brokerId} down");
        }
    }

    public void SetBrokerUp(int brokerId)
    {
        lock (_gate)
        {
            Check(_native.MockBrokerSetUp(Cluster(), brokerId), $"bring broker {brokerId} up");
        }
    }

    public void SetRtt(int brokerId, int milliseconds)
    {
        lock (_gate)
        {
            Check(_native.MockBrokerSetRtt(Cluster(), brokerId, milliseconds), $"set the round-trip time of broker {brokerId}");
        }
    }

    public void PushRequestErrors(short apiKey, ReadOnlySpan<int> errors)
    {
        lock (_gate)
        {
            _native.MockPushRequestErrors(Cluster(), apiKey, errors);
        }
    }

    public void ClearRequestErrors(short apiKey)
    {
        lock (_gate)
        {
            _native.MockClearRequestErrors(Cluster(), apiKey);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster == 0)
            {
                return;
            }

            // The cluster first: destroying the rd_kafka_t that owns a live mock cluster aborts the process.
            _native.MockClusterDestroy(_cluster);
            _cluster = 0;
            _native.DestroyHandle(_handle);
            _handle = 0;
        }
    }

    private nint Cluster()
    {
        ObjectDisposedException.ThrowIf(_cluster == 0, this);
        return _cluster;
    }

    private static void Check(int error, string what)
    {
        if (error != 0)
        {
            throw new KafkaException(new Error((ErrorCode)error, $"The embedded Kafka cluster could not {what}: {(ErrorCode)error}."));
        }
    }
}
