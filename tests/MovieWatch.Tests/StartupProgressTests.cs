using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace MovieWatch.Tests;

/// <summary>The sample's first minutes are not silent: each start-up step is printed with its time as it happens.</summary>
public sealed class StartupProgressTests
{
    [Fact]
    public async Task Starting_throwaway_servers_prints_each_step_with_the_seconds_since_start()
    {
        var log = new StringWriter();
        await using (await SampleInfrastructure.StartAsync(new ConfigurationBuilder().Build(), log))
        {
        }

        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.All(lines, line => Assert.Matches(@"^\[\s*\d+\.\d s\] ", line));
        Assert.Contains(lines, l => l.Contains("starting a throwaway PostgreSQL", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("PostgreSQL: LocalCluster server", StringComparison.Ordinal) || l.Contains("ready in", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("starting an embedded Kafka", StringComparison.Ordinal));
        var seconds = lines.Select(l => double.Parse(Regex.Match(l, @"^\[\s*(\d+\.\d) s\]").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(seconds.Order(), seconds);
    }
}
