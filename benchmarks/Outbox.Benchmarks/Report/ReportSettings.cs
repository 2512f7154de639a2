using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Report;

/// <summary>The sizes of a <c>report</c> run and where it writes.</summary>
internal sealed record ReportSettings(int Messages, int Writers, int Rate, int Seconds, int Partitions, int InboxMessages, string OutputDirectory, string? MicroResultsDirectory)
{
    /// <summary>Gets the measured seconds of each live run (<c>--live-seconds</c>, default 15).</summary>
    public int LiveSeconds { get; init; } = 15;

    public static ReportSettings From(BenchArguments options) => new(
        options.GetInt("messages", 200_000),
        options.GetInt("writers", 4),
        options.GetInt("rate", 500),
        options.GetInt("seconds", 30),
        options.GetInt("partitions", 32),
        options.GetInt("inbox-messages", 100_000),
        options.GetString("out", Path.Combine("benchmarks", "results")),
        options.GetString("micro", "") is { Length: > 0 } micro ? micro : null)
    {
        LiveSeconds = options.GetInt("live-seconds", 15),
    };
}
