using Outbox.Benchmarks.Macro;
using ScottPlot;

namespace Outbox.Benchmarks.Report;

/// <summary>The report's PNG charts (ScottPlot).</summary>
internal static class Charts
{
    public static void Throughput(string path, IReadOnlyList<(string Label, double PerSecond, bool IsBaseline)> bars, string subtitle)
    {
        var plot = new Plot();
        var items = bars.Select((b, i) => new Bar
        {
            Position = i,
            Value = b.PerSecond,
            FillColor = b.IsBaseline ? Colors.Gray : Colors.SteelBlue,
            Label = b.PerSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
        }).ToArray();
        var barPlot = plot.Add.Bars(items);
        barPlot.ValueLabelStyle.FontSize = 12;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. Enumerable.Range(0, bars.Count).Select(i => (double)i)],
            [.. bars.Select(b => b.Label)]);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Margins(bottom: 0);
        plot.Title("Throughput, messages/s (grey: raw baselines, blue: library relays)\n" + subtitle);
        plot.YLabel("messages per second");
        plot.SavePng(path, 1100, 560);
    }

    public static void Latency(string path, IReadOnlyList<LatencyResult> results, IReadOnlyDictionary<RelayKind, double> goals, string subtitle)
    {
        var plot = new Plot();
        var palette = new[] { Colors.SteelBlue, Colors.DarkOrange };
        var i = 0;
        foreach (var result in results)
        {
            var sorted = result.LatenciesMs;
            if (sorted.Length == 0)
            {
                continue;
            }

            // HdrHistogram-style: x = -log10(1 - quantile), so 90%, 99% and 99.9% are evenly spaced and the tail is visible.
            var points = Math.Min(2000, sorted.Length);
            var xs = new double[points];
            var ys = new double[points];
            for (var p = 0; p < points; p++)
            {
                var index = (int)Math.Round(p / (double)Math.Max(1, points - 1) * (sorted.Length - 1));
                var quantile = (index + 0.5) / sorted.Length;
                xs[p] = -Math.Log10(1 - quantile);
                ys[p] = sorted[index];
            }

            var color = palette[i++ % palette.Length];
            var line = plot.Add.ScatterLine(xs, ys);
            line.Color = color;
            line.LineWidth = 2;
            line.LegendText = $"{result.Relay.ToString().ToLowerInvariant()} at {result.Rate}/s: p50 {LatencyResult.Percentile(sorted, 50):0.0} ms, p99 {LatencyResult.Percentile(sorted, 99):0.0} ms";
            if (goals.TryGetValue(result.Relay, out var goal))
            {
                var goalLine = plot.Add.HorizontalLine(goal);
                goalLine.Color = color;
                goalLine.LinePattern = LinePattern.Dashed;
                goalLine.LegendText = $"{result.Relay.ToString().ToLowerInvariant()} p99 goal {goal:0} ms";
            }
        }

        double[] ticks = [0, Math.Log10(2), 1, 2, 3, 4];
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, ["0%", "50%", "90%", "99%", "99.9%", "99.99%"]);
        var longest = results.Max(r => r.LatenciesMs.Length);
        plot.Axes.SetLimitsX(0, Math.Max(2.2, Math.Log10(Math.Max(10, longest))));
        plot.Axes.SetLimitsY(0, results.Max(r => r.LatenciesMs.Length == 0 ? 1 : r.LatenciesMs[^1]) * 1.05);
        plot.Title("Commit to Kafka acknowledgement latency by percentile\n" + subtitle);
        plot.XLabel("percentile (log scale of 1 / (1 - p))");
        plot.YLabel("milliseconds");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1100, 560);
    }
}
