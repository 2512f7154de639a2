using System.Globalization;

namespace Outbox.Benchmarks.Infrastructure;

/// <summary>The <c>--name value</c> options of a macro command, with typed getters and a check that nothing is unknown.</summary>
internal sealed class BenchArguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _read = new(StringComparer.OrdinalIgnoreCase);

    public BenchArguments(IEnumerable<string> args)
    {
        string? name = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (name is not null)
                {
                    _values[name] = "true";
                }

                name = arg[2..];
            }
            else if (name is not null)
            {
                _values[name] = arg;
                name = null;
            }
            else
            {
                throw new ArgumentException($"Unexpected argument '{arg}': options are written '--name value'.");
            }
        }

        if (name is not null)
        {
            _values[name] = "true";
        }
    }

    public string GetString(string name, string defaultValue)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out var value) ? value : defaultValue;
    }

    public int GetInt(string name, int defaultValue)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var text))
        {
            return defaultValue;
        }

        // Accept 200000, 200_000 and 200k.
        text = text.Replace("_", "", StringComparison.Ordinal);
        var multiplier = 1;
        if (text.EndsWith('k') || text.EndsWith('K'))
        {
            multiplier = 1000;
            text = text[..^1];
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value * multiplier
            : throw new ArgumentException($"--{name} must be a positive whole number, not '{_values[name]}'.");
    }

    public bool GetFlag(string name)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out var value) && !string.Equals(value, "false", StringComparison.OrdinalIgnoreCase);
    }

    public void ThrowIfUnknown()
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"Unknown option(s): {string.Join(", ", unknown.Select(u => "--" + u))}.");
        }
    }
}
