using BenchmarkDotNet.Attributes;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// The lane of an aggregate id (<see cref="LaneHash.Compute"/>: XxHash32 of the UTF-8 bytes) against
/// <see cref="string.GetHashCode()"/> (baseline), which is faster but differs between processes and so cannot be used.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(MicroConfig))]
public class LaneHashBenchmarks
{
    private string _key = "";

    [Params(11, 36, 200)]
    public int KeyLength { get; set; }

    [GlobalSetup]
    public void Setup() => _key = string.Concat(Enumerable.Repeat("acct-0123456789abcdef-", 20))[..KeyLength];

    [Benchmark(Baseline = true)]
    public int StringGetHashCode() => (int)((uint)_key.GetHashCode() % 64);

    [Benchmark]
    public int LaneHashCompute() => LaneHash.Compute(_key, 64);
}
