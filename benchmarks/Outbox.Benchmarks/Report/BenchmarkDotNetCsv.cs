using System.Globalization;
using System.Text;

namespace Outbox.Benchmarks.Report;

/// <summary>Reads BenchmarkDotNet's CSV report (<c>*-report.csv</c>): times in nanoseconds, allocations in bytes.</summary>
internal sealed class BenchmarkDotNetCsv
{
    private readonly List<Dictionary<string, string>> _rows;

    private BenchmarkDotNetCsv(List<Dictionary<string, string>> rows) => _rows = rows;

    public static BenchmarkDotNetCsv? Load(string? directory, string className)
    {
        if (directory is null)
        {
            return null;
        }

        var path = Directory.Exists(directory)
            ? Directory.GetFiles(directory, $"*.{className}-report.csv").FirstOrDefault()
            : null;
        if (path is null)
        {
            return null;
        }

        var lines = File.ReadAllLines(path);
        var header = Split(lines[0]);
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var cells = Split(l);
            return header.Select((h, i) => (h, i < cells.Count ? cells[i] : "")).ToDictionary(x => x.h, x => x.Item2, StringComparer.Ordinal);
        }).ToList();
        return new BenchmarkDotNetCsv(rows);
    }

    /// <summary>Mean time (ns) and allocated bytes of one method, for one parameter value.</summary>
    public (double MeanNs, double AllocatedBytes)? Find(string method, string parameter, string value)
    {
        var row = _rows.FirstOrDefault(r => r["Method"] == method && r.TryGetValue(parameter, out var v) && v == value);
        return row is null ? null : (ParseTime(row["Mean"]), ParseBytes(row["Allocated"]));
    }

    private static double ParseTime(string text)
    {
        var (number, unit) = NumberAndUnit(text);
        return unit switch
        {
            "ns" => number,
            "μs" or "us" => number * 1e3,
            "ms" => number * 1e6,
            "s" => number * 1e9,
            _ => double.NaN,
        };
    }

    private static double ParseBytes(string text)
    {
        if (text is "-" or "")
        {
            return 0;
        }

        var (number, unit) = NumberAndUnit(text);
        return unit switch
        {
            "B" => number,
            "KB" => number * 1024,
            "MB" => number * 1024 * 1024,
            "GB" => number * 1024 * 1024 * 1024,
            _ => double.NaN,
        };
    }

    private static (double Number, string Unit) NumberAndUnit(string text)
    {
        var parts = text.Trim().Split(' ', 2);
        var number = double.Parse(parts[0].Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
        return (number, parts.Length > 1 ? parts[1] : "");
    }

    private static List<string> Split(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                cells.Add(cell.ToString());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }

        cells.Add(cell.ToString());
        return cells;
    }
}
