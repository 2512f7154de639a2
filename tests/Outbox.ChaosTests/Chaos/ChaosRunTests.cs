using System.Globalization;
using System.Text.RegularExpressions;
using Outbox.ChaosTests.Infrastructure;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.Chaos;

/// <summary>
/// The chaos run of CI: 60 seconds of faults (40 s polling relays, 20 s CDC relay and standby) against writer, relay and
/// consumer processes, then the checks. A failure prints the seed: <c>OUTBOX_CHAOS_SEED=S dotnet test --filter ChaosRunTests</c>
/// (or <c>dotnet tests/Outbox.ChaosTests/bin/Debug/net10.0/Outbox.ChaosTests.dll chaos --seconds 60 --seed S</c>)
/// replays the same faults. A plain <c>dotnet test</c> leaves it out (<see cref="Category"/>, the project's default
/// filter); <c>.ci/run</c> runs it as a step of its own: <c>dotnet test tests/Outbox.ChaosTests --filter Category=ChaosRun</c>.
/// </summary>
[Collection(ChaosRunCollection.Name)]
[Trait("Category", Category)]
public sealed partial class ChaosRunTests(ITestOutputHelper output)
{
    public const string SeedVariable = "OUTBOX_CHAOS_SEED";

    /// <summary>The trait value of the chaos run.</summary>
    public const string Category = "ChaosRun";

    [Fact]
    public async Task Sixty_seconds_of_faults_lose_nothing_keep_key_order_and_take_effect_once()
    {
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : Random.Shared.Next(1, int.MaxValue);
        output.WriteLine($"seed {seed} (replay with {SeedVariable}={seed})");

        using var runner = RunnerProcess.Start(output, "chaos", "--seconds", "60", "--seed", seed.ToString(CultureInfo.InvariantCulture), "--exit-on-stdin-eof");
        var (exitCode, stdout) = await runner.WaitAsync(TimeSpan.FromMinutes(12));

        var summary = stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("chaos: seed=", StringComparison.Ordinal));
        Assert.NotNull(summary);
        var match = SummaryPattern().Match(summary);
        Assert.True(match.Success, $"unexpected summary line: {summary}");
        Assert.Equal(seed.ToString(CultureInfo.InvariantCulture), match.Groups["seed"].Value);
        Assert.True(long.Parse(match.Groups["events"].Value, CultureInfo.InvariantCulture) > 100, "too few events committed for the run to mean anything");
        Assert.True(int.Parse(match.Groups["faults"].Value, CultureInfo.InvariantCulture) >= 12, "every fault kind in both runs");
        Assert.Equal("0", match.Groups["lost"].Value);
        Assert.Equal("0", match.Groups["order"].Value);
        Assert.Equal("0", match.Groups["double"].Value);
        Assert.True(exitCode == 0, $"the chaos run found problems (exit code {exitCode}):\n{stdout}");
    }

    [GeneratedRegex(@"^chaos: seed=(?<seed>\d+) events=(?<events>\d+) lost=(?<lost>\d+) duplicates_in_kafka=\d+ stale_resends=\d+ order_violations=(?<order>\d+) double_effects=(?<double>\d+) faults=(?<faults>\d+)$")]
    private static partial Regex SummaryPattern();
}
