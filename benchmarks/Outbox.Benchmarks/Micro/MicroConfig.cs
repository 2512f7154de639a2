using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// A bounded job (1 launch, 3 warm-up and 12 measured iterations; BenchmarkDotNet's default exporters include the GitHub markdown table) so the whole set runs in minutes on a shared
/// 2-core machine; ratios to the baseline method are the figures that matter there.
/// </summary>
public sealed class MicroConfig : ManualConfig
{
    public MicroConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(12).WithId("bounded"));
        AddDiagnoser(MemoryDiagnoser.Default);
        // A loaded 2-core machine can take longer than the default 2 minutes to build the generated project.
        WithBuildTimeout(TimeSpan.FromMinutes(15));
    }
}
