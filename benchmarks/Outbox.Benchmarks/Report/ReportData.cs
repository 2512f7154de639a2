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

    public List<string> Skipped { get; } = [];

    public string? WritePathProfile { get; set; }

    public string LoadAverageAtEnd { get; set; } = "";
}
