using System.Text.Json;
using System.Text.Json.Nodes;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro;

/// <summary>The result of one scenario: one JSON line on stdout, and the details the report shows.</summary>
internal abstract class ScenarioResult
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public CpuUsage? Cpu { get; init; }

    public IReadOnlyList<(string Statement, long Calls, double Seconds)> DbCommands { get; init; } = [];

    /// <summary>Lines of "where the time went" for the report.</summary>
    public List<string> Notes { get; } = [];

    public abstract JsonObject ToJson();

    public string ToJsonLine() => ToJson().ToJsonString(Compact);

    protected static double Round(double value, int digits = 1) => Math.Round(value, digits, MidpointRounding.AwayFromZero);

    protected static void AddVerification(JsonObject json, VerificationResult v)
    {
        json["lost"] = v.Lost;
        json["duplicates"] = v.Duplicates;
        json["order_violations"] = v.OrderViolations;
    }
}
