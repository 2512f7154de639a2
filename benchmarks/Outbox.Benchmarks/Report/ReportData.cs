using Outbox.Benchmarks.Macro;

namespace Outbox.Benchmarks.Report;

/// <summary>Everything one report shows.</summary>
internal sealed class ReportData(ReportSettings settings, MachineInfo machine, DateTimeOffset started)
{
    public ReportSettings Settings => settings;

    public MachineInfo Machine => machine;

    public DateTimeOffset Started => started;

    public BaselinesResult? Baselines { get; set; }

    public List<ThroughputResult> Throughput { get; } = [];

    public List<LatencyResult> Latency { get; } = [];

    public List<InboxResult> Inbox { get; } = [];

    /// <summary>The user-shaped <c>live</c> runs: (label, results of dual-write, polling, CDC in one run).</summary>
    public List<(string Label, IReadOnlyList<LiveResult> Results)> Live { get; } = [];

    public List<string> Skipped { get; } = [];

    public string? WritePathProfile { get; set; }

    public string LoadAverageAtEnd { get; set; } = "";
}
