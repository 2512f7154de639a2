using System.Globalization;

namespace Outbox.ChaosTests.Roles;

/// <summary>The <c>--name value</c> pairs a role process is started with.</summary>
public sealed class RoleArguments
{
    private readonly Dictionary<string, string> _values;

    private RoleArguments(Dictionary<string, string> values) => _values = values;

    public static RoleArguments Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                throw new UsageException($"Expected '--name value' pairs; got '{args[i]}'.");
            }

            values[args[i][2..]] = args[i + 1];
        }

        return new RoleArguments(values);
    }

    public string Required(string name) =>
        _values.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value)
            ? value
            : throw new UsageException($"--{name} is required.");

    public int Number(string name, int defaultValue) =>
        _values.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : defaultValue;

    public string? Optional(string name) => _values.GetValueOrDefault(name);

    public int? OptionalInt(string name) =>
        _values.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : null;
}
