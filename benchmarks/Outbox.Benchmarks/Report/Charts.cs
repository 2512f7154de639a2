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

            // Latency at each percentile from 0 to 100 (the last point is the maximum).
            var points = Math.Min(1000, sorted.Length);
            var xs = new double[points];
            var ys = new double[points];
            for (var p = 0; p < points; p++)
            {
                var fraction = points == 1 ? 1 : p / (double)(points - 1);
                xs[p] = fraction * 100;
                ys[p] = sorted[(int)Math.Round(fraction * (sorted.Length - 1))];
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

        plot.Axes.SetLimitsX(0, 100);
        plot.Title("Commit to Kafka acknowledgement latency by percentile\n" + subtitle);
        plot.XLabel("percentile");
        plot.YLabel("milliseconds");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1100, 560);
    }
}
