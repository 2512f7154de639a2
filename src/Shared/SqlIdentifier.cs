using System.Text;
using System.Text.RegularExpressions;

namespace Outbox;

/// <summary>Validation and quoting of SQL identifiers that come from configuration.</summary>
internal static partial class SqlIdentifier
{
    /// <summary>PostgreSQL's longest name in bytes (NAMEDATALEN - 1); it silently cuts longer identifiers.</summary>
    public const int MaxBytes = 63;

    /// <summary>Letters, digits and underscores, starting with a letter or underscore, at most 63 ASCII characters
    /// (so 63 bytes). <c>\z</c>, not <c>$</c>: <c>$</c> also matches before a final newline.</summary>
    [GeneratedRegex(@"\A[A-Za-z_][A-Za-z0-9_]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ValidPattern();

    public static bool IsValid(string? name) => name is not null && ValidPattern().IsMatch(name);

    /// <summary>The length of a name as PostgreSQL counts it: UTF-8 bytes.</summary>
    public static int ByteCount(string name) => Encoding.UTF8.GetByteCount(name);

    /// <summary>Throws when the name is not a plain identifier; the message names the option it came from.</summary>
    public static string Validate(string? name, string optionName)
    {
        if (!IsValid(name))
        {
            throw new OutboxConfigurationException(
                $"{optionName} must be a plain SQL identifier (letters, digits and '_', starting with a letter or '_', at most 63 characters); got '{name}'.");
        }

        return name!;
    }

    /// <summary>Quotes an identifier for PostgreSQL, doubling embedded quotes (validation already forbids them; this is belt and braces).</summary>
    public static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Qualified(string schema, string name) => Quote(schema) + "." + Quote(name);
}
