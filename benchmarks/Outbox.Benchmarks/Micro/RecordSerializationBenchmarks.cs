using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Outbox.Benchmarks.Macro;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// Building an outbox record (<see cref="OutboxMessageFactory.Create"/>: mapping lookup, JSON, size check, lane,
/// UUIDv7, trace context) against serializing the event alone (baseline), for several payload sizes.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class RecordSerializationBenchmarks
{
    private OutboxMessageFactory _factory = null!;
    private JsonSerializerOptions _json = null!;
    private BenchEvent _event = null!;

    [Params(150, 1_000, 10_000)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new OutboxOptions();
        options.MapEvent<BenchEvent>("bench", e => e.AccountId);
        _json = options.JsonSerializerOptions;
        _factory = new OutboxMessageFactory(new OutboxEventRegistry(options.Mappings), options, TimeProvider.System);
        _event = new BenchEvent("acct-000042", 7, 123.45m, new string('x', Math.Max(1, PayloadBytes - 70)));
    }

    [Benchmark(Baseline = true)]
    public string SerializeOnly() => JsonSerializer.Serialize(_event, _json);

    [Benchmark]
    public OutboxMessage FactoryCreate() => _factory.Create(_event);
}
