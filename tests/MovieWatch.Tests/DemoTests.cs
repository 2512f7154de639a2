namespace MovieWatch.Tests;

/// <summary>The headless demo, in process, with small numbers: nothing lost, nothing counted twice.</summary>
public sealed class DemoTests
{
    [Theory]
    [InlineData("polling")]
    [InlineData("cdc")]
    public async Task Demo_handles_every_watch_exactly_once(string relay)
    {
        await using var host = await SampleHost.CreateAsync();
        var stdout = new StringWriter();
        var settings = new SampleSettings(true, relay, 10, 120, 6, []);

        var exit = await Demo.RunAsync(settings, host.Infrastructure, stdout, TextWriter.Null);

        var line = stdout.ToString().Trim();
        Assert.Equal(0, exit);
        Assert.StartsWith($"demo: relay={relay} watches=120 published=120 streamed=120 recommended=120 lost=0 duplicates_suppressed=", line, StringComparison.Ordinal);
        Assert.Matches(@" rate=100 p50_ms=\d+(\.\d)? p99_ms=\d+(\.\d)?$", line);
    }

    [Fact]
    public void Settings_take_the_demo_rate_with_100_per_second_by_default_and_refuse_a_negative_one()
    {
        Assert.Equal(100, SampleSettings.Parse(["demo"]).Rate);
        Assert.Equal(0, SampleSettings.Parse(["demo", "--rate", "0"]).Rate);
        Assert.Equal(250, SampleSettings.Parse(["demo", "--rate", "250"]).Rate);
        var ex = Assert.Throws<ArgumentException>(() => SampleSettings.Parse(["demo", "--rate", "-5"]));
        Assert.Contains("--rate must be a whole number", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_reject_an_unknown_relay_with_a_clear_message()
    {
        var ex = Assert.Throws<ArgumentException>(() => SampleSettings.Parse(["demo", "--relay", "carrier-pigeon"]));
        Assert.Contains("--relay must be one of polling, cdc, debezium", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_refuse_the_demo_with_debezium_before_anything_starts()
    {
        var ex = Assert.Throws<ArgumentException>(() => SampleSettings.Parse(["demo", "--relay", "debezium"]));
        Assert.Contains("The demo needs a relay in this process", ex.Message, StringComparison.Ordinal);
        Assert.Equal("debezium", SampleSettings.Parse(["--relay", "debezium"]).Relay);
    }
}
