using System.Diagnostics;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Micro;

/// <summary>
/// <c>profile-write-path</c>: where the write path's time and allocations go, outside BenchmarkDotNet. Runs the
/// SaveChanges shapes of <see cref="SaveChangesBenchmarks"/> (100 entities, one event each) in this process, with
/// exact allocated bytes per event and the allocating types sampled from the runtime's allocation events.
/// </summary>
internal static class WritePathProfile
{
    public static async Task<string> RunAsync(int entities, int iterations)
    {
        var output = new System.Text.StringBuilder();
        var bench = new SaveChangesBenchmarks { Entities = entities };
        bench.Setup();
        try
        {
            using var sampler = new AllocationSampler();
            var shapes = new (string Name, Func<Task<int>> Run)[]
            {
                ("plain rows (baseline)", bench.EntitiesWithPlainEventRows),
                ("outbox", bench.EntitiesWithOutboxEvents),
                ("outbox, CDC/Debezium schema", bench.EntitiesWithOutboxEventsNoCommitTrigger),
                ("entities only", bench.EntitiesOnly),
                ("entities only, outbox context", bench.EntitiesOnlyThroughOutboxContext),
            };

            // Warm up every shape, then measure them interleaved so machine noise hits all alike.
            foreach (var (_, run) in shapes)
            {
                for (var i = 0; i < 20; i++)
                {
                    await run();
                }
            }

            var times = shapes.ToDictionary(s => s.Name, _ => new List<double>());
            for (var round = 0; round < iterations; round++)
            {
                foreach (var (name, run) in shapes)
                {
                    var started = Stopwatch.GetTimestamp();
                    await run();
                    times[name].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }

            output.AppendLine(Fmt.Inv($"SaveChangesAsync of {entities} entities, {iterations} rounds, median ms and allocated bytes per entity:"));
            var baselineMedian = Median(times[shapes[0].Name]);
            foreach (var (name, run) in shapes)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                const int allocationRounds = 20;
                for (var i = 0; i < allocationRounds; i++)
                {
                    await run();
                }

                var perEntity = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)(allocationRounds * entities);
                var median = Median(times[name]);
                output.AppendLine(Fmt.Inv($"  {name,-32} {median,9:0.000} ms  ratio {median / baselineMedian,5:0.00}  {perEntity,8:N0} B per entity"));
            }

            foreach (var (name, run) in shapes.Take(2))
            {
                sampler.Start();
                const int sampleRounds = 200;
                for (var i = 0; i < sampleRounds; i++)
                {
                    await run();
                }

                var sampled = sampler.Stop();
                output.AppendLine(Fmt.Inv($"allocating types, {name} (sampled, bytes per entity):"));
                foreach (var (type, bytes) in sampled.Take(15))
                {
                    output.AppendLine(Fmt.Inv($"  {bytes / (double)(sampleRounds * entities),8:N0}  {type}"));
                }
            }
        }
        finally
        {
            bench.Cleanup();
        }

        return output.ToString();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
