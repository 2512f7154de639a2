using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// <c>fleet</c>: one relay process over many databases of one cluster (<c>UsePostgreSqlDatabases</c> + <c>AddPollingRelay</c>).
/// Runs the chosen scenarios; each emits its JSON line on stdout and prints, on stderr, the command line, the load average
/// and a Markdown table of its results.
/// </summary>
internal static class FleetCommand
{
    /// <summary>The server settings the command needs: 200 databases with a pool each need more than the default 300 connections.</summary>
    public static readonly IReadOnlyDictionary<string, string> PostgresSettings = new Dictionary<string, string> { ["max_connections"] = "1000" };

    public static async Task RunAsync(BenchInfrastructure infrastructure, FleetSettings settings, IReadOnlyList<string> args, Action<ScenarioResult> emit, CancellationToken cancellationToken)
    {
        foreach (var scenario in settings.Scenarios)
        {
            var loadAtStart = LoadAverage();
            Progress.Line($"fleet/{scenario}: load average at start {loadAtStart}");
            ScenarioResult result = scenario switch
            {
                "fairness" => await FleetFairnessScenario.RunAsync(
                    infrastructure, settings.Databases ?? FleetSettings.FairnessDatabases, settings.Rate, settings.HotFactor, settings.Seconds, settings.Partitions, cancellationToken),
                "scale" => await FleetScaleScenario.RunAsync(
                    infrastructure, settings.Messages, settings.Databases ?? FleetSettings.ScaleDatabases, settings.Partitions, cancellationToken),
                _ => await FleetConnectionsScenario.RunAsync(
                    infrastructure, settings.Databases ?? FleetSettings.ConnectionsDatabases, settings.MaxListening, settings.SettleSeconds, settings.CpuSeconds, cancellationToken),
            };
            emit(result);

            var report = (IFleetResult)result;
            var lines = new List<string>
            {
                "",
                $"## fleet: {report.Title}",
                "",
                "`dotnet run -c Release --project benchmarks/Outbox.Benchmarks -- " + string.Join(" ", args) + "`",
                "(as run: `" + settings.Effective(scenario) + "`)",
                "",
                $"Load average (1, 5, 15 min) at the start: {loadAtStart}; at the end: {LoadAverage()}; {Environment.ProcessorCount} cores.",
                "",
            };
            lines.AddRange(report.Report());
            lines.Add("");
            await Console.Error.WriteLineAsync(string.Join(Environment.NewLine, lines));
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
