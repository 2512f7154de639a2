using System.Buffers.Text;
using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// Reads a run's topic from the beginning of every partition and checks it: lost events (never seen), duplicates
/// (an id seen again) and per-key order violations (an account's event number going backwards). Started before the
/// run when the run is larger than the embedded cluster keeps per partition (about 5 MiB or 100k message sets), so
/// records are read before they are dropped; otherwise started after the timed part, to keep its CPU out of it.
/// </summary>
internal sealed class TopicVerifier : IAsyncDisposable
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly Workload _workload;
    private readonly HashSet<Guid> _seen = [];
    private readonly long[] _lastSeq;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly Dictionary<Guid, long>? _receivedAt;
    private long[]? _receivedAtIndex;
    private long? _expected;
    private long _received;
    private long _distinct;
    private long _duplicates;
    private long _violations;
    private long _unexpected;
    private Exception? _failure;
    private bool _started;

    private TopicVerifier(string bootstrapServers, string topic, int partitions, Workload workload, bool recordReceiveTimes)
    {
        _workload = workload;
        _lastSeq = new long[workload.Keys];
        Array.Fill(_lastSeq, -1);
        _receivedAt = recordReceiveTimes ? new Dictionary<Guid, long>(workload.Messages) : null;
        _consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "bench-verify-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = false,

            // Fetch again at once: the receive times are a second view of latency, and librdkafka's default
            // back-offs (up to 500 ms after an empty or failed fetch) would dominate it.
            FetchWaitMaxMs = 5,
            FetchErrorBackoffMs = 1,
            FetchQueueBackoffMs = 1,
        }).Build();
        _consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        _thread = new Thread(Run) { IsBackground = true, Name = "bench-verifier" };
    }

    public long Distinct => Interlocked.Read(ref _distinct);

    /// <summary>
    /// The number of records a run may hold before it must be read while it runs: 10,000 per partition, about 3 MB of
    /// ~300-byte records against the embedded cluster's 5 MiB, with room for keys that hash unevenly.
    /// </summary>
    public static int LiveThreshold(int partitions) => partitions * 10_000;

    /// <summary>Creates a verifier; when <paramref name="liveWhile"/> it starts reading at once, else at <see cref="CompleteAsync"/>.</summary>
    public static TopicVerifier Start(string bootstrapServers, string topic, int partitions, Workload workload, bool liveWhile, bool recordReceiveTimes = false)
    {
        var verifier = new TopicVerifier(bootstrapServers, topic, partitions, workload, recordReceiveTimes);
        if (liveWhile)
        {
            verifier.EnsureStarted();
        }

        return verifier;
    }

    /// <summary>Reads until every expected event is seen, or nothing new arrives for <paramref name="idle"/>; then returns the verdict.</summary>
    public async Task<VerificationResult> CompleteAsync(TimeSpan idle, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var expected = _expected ?? _workload.Messages;
        var lastCount = -1L;
        var lastProgress = Stopwatch.GetTimestamp();
        await using (Progress.Every(TimeSpan.FromSeconds(2), () => Fmt.Inv($"verifying topic: {Distinct:N0}/{expected:N0} distinct events read")))
        {
            while (Distinct < expected && _failure is null)
            {
                var count = Interlocked.Read(ref _received);
                if (count != lastCount)
                {
                    lastCount = count;
                    lastProgress = Stopwatch.GetTimestamp();
                }
                else if (Stopwatch.GetElapsedTime(lastProgress) > idle)
                {
                    break;
                }

                await Task.Delay(50, cancellationToken);
            }

            // A short grace period catches duplicates that trail the last new event.
            await Task.Delay(200, cancellationToken);
        }

        await StopAsync();
        if (_failure is not null)
        {
            throw new InvalidOperationException("Reading the topic failed: " + _failure.Message, _failure);
        }

        return new VerificationResult(expected, _received, _distinct, expected - _distinct, _duplicates, _violations, _unexpected);
    }

    /// <summary>When the consumer first received each event (Stopwatch ticks); only with <c>recordReceiveTimes</c>, after <see cref="CompleteAsync"/>.</summary>
    public IReadOnlyDictionary<Guid, long> ReceivedAt => _receivedAt ?? throw new InvalidOperationException("Receive times were not recorded.");

    /// <summary>
    /// When the consumer first received each event, by the event's index in the workload (Stopwatch ticks, 0 when not
    /// received): for writers that do not see the ids the library gives their events.
    /// </summary>
    public long[] ReceivedAtIndex => _receivedAtIndex ?? throw new InvalidOperationException("Receive times by index were not recorded.");

    /// <summary>Records receive times by event index (call before the first record arrives).</summary>
    public void RecordIndexTimes() => _receivedAtIndex = new long[_workload.Messages];

    /// <summary>Sets how many distinct events <see cref="CompleteAsync"/> waits for and counts as expected (default: the workload's).</summary>
    public void Expect(long events) => _expected = events;

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _consumer.Dispose();
        _stop.Dispose();
    }

    /// <summary>Starts reading now (a verifier created with <c>liveWhile: false</c>).</summary>
    public void StartNow() => EnsureStarted();

    private void EnsureStarted()
    {
        if (!_started)
        {
            _started = true;
            _thread.Start();
        }
    }

    private async Task StopAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }

        if (_started)
        {
            await Task.Run(() => _thread.Join());
        }
    }

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = _consumer.Consume(100);
                if (result?.Message is { } message)
                {
                    Record(message, Stopwatch.GetTimestamp());
                }
            }
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    private void Record(Message<byte[], byte[]> message, long now)
    {
        Interlocked.Increment(ref _received);
        if (!message.Headers.TryGetLastBytes("id", out var idBytes) || !Utf8Parser.TryParse(idBytes, out Guid id, out _))
        {
            _unexpected++;
            return;
        }

        if (!_seen.Add(id))
        {
            _duplicates++;
            return;
        }

        _receivedAt?.TryAdd(id, now);
        Interlocked.Increment(ref _distinct);
        var account = ParseAccount(message.Key);
        var seq = ParseSeq(message.Value);
        if (account < 0 || account >= _lastSeq.Length || seq < 0)
        {
            _unexpected++;
            return;
        }

        if (_receivedAtIndex is { } byIndex && (seq * _workload.Keys) + account is var index && index < byIndex.Length && byIndex[index] == 0)
        {
            byIndex[index] = now;
        }

        if (seq < _lastSeq[account])
        {
            _violations++;
        }
        else
        {
            _lastSeq[account] = seq;
        }
    }

    internal static int ParseAccount(byte[] key)
    {
        // "acct-000123"
        const int prefix = 5;
        return key.Length > prefix && Utf8Parser.TryParse(key.AsSpan(prefix), out int account, out _) ? account : -1;
    }

    internal static long ParseSeq(byte[] value)
    {
        var reader = new Utf8JsonReader(value);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                return reader.TryGetInt64(out var seq) ? seq : -1;
            }
        }

        return -1;
    }
}
