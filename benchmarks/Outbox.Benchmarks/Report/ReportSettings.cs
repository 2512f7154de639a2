using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Report;

/// <summary>The sizes of a <c>report</c> run and where it writes.</summary>
internal sealed record ReportSettings(int Messages, int Writers, int Rate, int Seconds, int Partitions, string OutputDirectory, string? MicroResultsDirectory)
{
    public static ReportSettings From(BenchArguments options) => new(
        options.GetInt("messages", 200_000),
        options.GetInt("writers", 4),
        options.GetInt("rate", 500),
        options.GetInt("seconds", 30),
        options.GetInt("partitions", 16),
        options.GetString("out", Path.Combine("benchmarks", "results")),
        options.GetString("micro", "") is { Length: > 0 } micro ? micro : null);
}
