using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Outbox.Testing;

/// <summary>
/// The parts of librdkafka's C API that the embedded broker needs, bound to the very library file that
/// Confluent.Kafka loaded.
/// </summary>
/// <remarks>
/// On Debian, Confluent.Kafka cannot load the primary <c>librdkafka.so</c> (it needs <c>libsasl2.so.3</c>) and
/// silently falls back to <c>centos8-librdkafka.so</c>, so a plain <c>[DllImport("librdkafka")]</c> fails. Instead we
/// let Confluent.Kafka load its library, find the file it mapped, and call its exports through function pointers
/// (no <c>DllImport</c> resolver, so nothing can conflict with another one in the process). The mock cluster API is
/// experimental and has no ABI promise: <c>librdkafka.redist</c> is pinned in <c>Directory.Packages.props</c>.
/// </remarks>
internal sealed unsafe class LibrdkafkaNative
{
    private const int ErrorBufferSize = 512;
    private static readonly Lazy<LibrdkafkaNative> s_instance = new(Load);

    private readonly delegate* unmanaged<nint> _confNew;
    private readonly delegate* unmanaged<nint, byte*, byte*, byte*, nuint, int> _confSet;
    private readonly delegate* unmanaged<nint, void> _confDestroy;
    private readonly delegate* unmanaged<int, nint, byte*, nuint, nint> _new;
    private readonly delegate* unmanaged<nint, void> _destroy;
    private readonly delegate* unmanaged<nint, int, nint> _mockClusterNew;
    private readonly delegate* unmanaged<nint, void> _mockClusterDestroy;
    private readonly delegate* unmanaged<nint, byte*> _mockClusterBootstraps;
    private readonly delegate* unmanaged<nint, byte*, int, int, int> _mockTopicCreate;
    private readonly delegate* unmanaged<nint, int, int> _mockBrokerSetDown;
    private readonly delegate* unmanaged<nint, int, int> _mockBrokerSetUp;
    private readonly delegate* unmanaged<nint, int, int, int> _mockBrokerSetRtt;
    private readonly delegate* unmanaged<nint, short, nuint, int*, void> _mockPushRequestErrorsArray;
    private readonly delegate* unmanaged<nint, short, void> _mockClearRequestErrors;
    private readonly delegate* unmanaged<nint, int, void> _mockSetControllerId;
    private readonly delegate* unmanaged<nint, int, void> _mockGroupInitialRebalanceDelayMs;

    private LibrdkafkaNative(string path, nint library)
    {
        LibraryPath = path;
        _confNew = (delegate* unmanaged<nint>)Export(library, "rd_kafka_conf_new");
        _confSet = (delegate* unmanaged<nint, byte*, byte*, byte*, nuint, int>)Export(library, "rd_kafka_conf_set");
        _confDestroy = (delegate* unmanaged<nint, void>)Export(library, "rd_kafka_conf_destroy");
        _new = (delegate* unmanaged<int, nint, byte*, nuint, nint>)Export(library, "rd_kafka_new");
        _destroy = (delegate* unmanaged<nint, void>)Export(library, "rd_kafka_destroy");
        _mockClusterNew = (delegate* unmanaged<nint, int, nint>)Export(library, "rd_kafka_mock_cluster_new");
        _mockClusterDestroy = (delegate* unmanaged<nint, void>)Export(library, "rd_kafka_mock_cluster_destroy");
        _mockClusterBootstraps = (delegate* unmanaged<nint, byte*>)Export(library, "rd_kafka_mock_cluster_bootstraps");
        _mockTopicCreate = (delegate* unmanaged<nint, byte*, int, int, int>)Export(library, "rd_kafka_mock_topic_create");
        _mockBrokerSetDown = (delegate* unmanaged<nint, int, int>)Export(library, "rd_kafka_mock_broker_set_down");
        _mockBrokerSetUp = (delegate* unmanaged<nint, int, int>)Export(library, "rd_kafka_mock_broker_set_up");
        _mockBrokerSetRtt = (delegate* unmanaged<nint, int, int, int>)Export(library, "rd_kafka_mock_broker_set_rtt");
        _mockPushRequestErrorsArray =
            (delegate* unmanaged<nint, short, nuint, int*, void>)Export(library, "rd_kafka_mock_push_request_errors_array");
        _mockClearRequestErrors = (delegate* unmanaged<nint, short, void>)Export(library, "rd_kafka_mock_clear_request_errors");
        _mockSetControllerId = (delegate* unmanaged<nint, int, void>)Export(library, "rd_kafka_mock_set_controller_id");
        _mockGroupInitialRebalanceDelayMs =
            (delegate* unmanaged<nint, int, void>)Export(library, "rd_kafka_mock_group_initial_rebalance_delay_ms");
    }

    /// <summary>Gets the bound library, loading it through Confluent.Kafka on first use.</summary>
    /// <exception cref="InvalidOperationException">The library or one of its mock-cluster exports was not found.</exception>
    public static LibrdkafkaNative Instance => s_instance.Value;

    /// <summary>Gets the file the functions come from, such as <c>.../centos8-librdkafka.so</c>.</summary>
    public string LibraryPath { get; }

    /// <summary>Creates a plain producer handle (never connected anywhere) to own a mock cluster.</summary>
    public nint CreateHandle(IEnumerable<KeyValuePair<string, string>> configuration)
    {
        var conf = _confNew();
        var error = stackalloc byte[ErrorBufferSize];
        foreach (var (name, value) in configuration)
        {
            using var nameUtf8 = new Utf8String(name);
            using var valueUtf8 = new Utf8String(value);
            if (_confSet(conf, nameUtf8.Pointer, valueUtf8.Pointer, error, ErrorBufferSize) != 0)
            {
                _confDestroy(conf);
                throw new InvalidOperationException($"librdkafka rejected {name}={value}: {Marshal.PtrToStringUTF8((nint)error)}");
            }
        }

        const int producer = 0; // RD_KAFKA_PRODUCER
        var handle = _new(producer, conf, error, ErrorBufferSize);
        if (handle == 0)
        {
            // rd_kafka_new takes ownership of the configuration only when it succeeds.
            _confDestroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {Marshal.PtrToStringUTF8((nint)error)}");
        }

        return handle;
    }

    public void DestroyHandle(nint handle) => _destroy(handle);

    public nint MockClusterNew(nint handle, int brokers) => _mockClusterNew(handle, brokers);

    public void MockClusterDestroy(nint cluster) => _mockClusterDestroy(cluster);

    public string MockClusterBootstraps(nint cluster) =>
        Marshal.PtrToStringUTF8((nint)_mockClusterBootstraps(cluster)) ?? string.Empty;

    public int MockTopicCreate(nint cluster, string topic, int partitions, int replicationFactor)
    {
        using var topicUtf8 = new Utf8String(topic);
        return _mockTopicCreate(cluster, topicUtf8.Pointer, partitions, replicationFactor);
    }

    public int MockBrokerSetDown(nint cluster, int brokerId) => _mockBrokerSetDown(cluster, brokerId);

    public int MockBrokerSetUp(nint cluster, int brokerId) => _mockBrokerSetUp(cluster, brokerId);

    public int MockBrokerSetRtt(nint cluster, int brokerId, int rttMilliseconds) =>
        _mockBrokerSetRtt(cluster, brokerId, rttMilliseconds);

    public void MockPushRequestErrors(nint cluster, short apiKey, ReadOnlySpan<int> errors)
    {
        fixed (int* first = errors)
        {
            _mockPushRequestErrorsArray(cluster, apiKey, (nuint)errors.Length, first);
        }
    }

    public void MockClearRequestErrors(nint cluster, short apiKey) => _mockClearRequestErrors(cluster, apiKey);

    public void MockSetControllerId(nint cluster, int brokerId) => _mockSetControllerId(cluster, brokerId);

    public void MockGroupInitialRebalanceDelay(nint cluster, int milliseconds) =>
        _mockGroupInitialRebalanceDelayMs(cluster, milliseconds);

    private static LibrdkafkaNative Load()
    {
        // Let Confluent.Kafka choose and load its native library first (on Debian: centos8-librdkafka.so).
        _ = Confluent.Kafka.Library.VersionString;
        var candidates = LoadedLibraryFiles();
        foreach (var path in candidates)
        {
            if (NativeLibrary.TryLoad(path, out var library)
                && NativeLibrary.TryGetExport(library, "rd_kafka_mock_cluster_new", out _))
            {
                return new LibrdkafkaNative(path, library);
            }
        }

        throw new InvalidOperationException(
            "Could not find the librdkafka library that Confluent.Kafka loaded, or it lacks the mock cluster API " +
            $"(candidates: {(candidates.Count == 0 ? "none" : string.Join(", ", candidates))}). " +
            "Set OUTBOX_TEST_KAFKA to the bootstrap servers of a Kafka broker, or run a Docker engine.");
    }

    /// <summary>The librdkafka files mapped into this process: from <c>/proc/self/maps</c> on Linux, else the module list.</summary>
    private static List<string> LoadedLibraryFiles()
    {
        var files = new List<string>();
        if (OperatingSystem.IsLinux() && File.Exists("/proc/self/maps"))
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0)
                {
                    files.Add(line[slash..].Trim());
                }
            }
        }
        else
        {
            using var process = Process.GetCurrentProcess();
            foreach (ProcessModule module in process.Modules)
            {
                files.Add(module.FileName);
            }
        }

        return files
            .Where(IsLibrdkafka)
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    private static bool IsLibrdkafka(string path)
    {
        var name = Path.GetFileName(path);
        return name.Contains("librdkafka", StringComparison.OrdinalIgnoreCase)
               && !name.Contains("librdkafkacpp", StringComparison.OrdinalIgnoreCase)
               && !name.Contains("++", StringComparison.Ordinal);
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address)
            ? address
            : throw new InvalidOperationException($"librdkafka has no export '{name}': this version lacks the mock cluster API.");
}
