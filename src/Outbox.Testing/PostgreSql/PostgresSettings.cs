using System.Text.RegularExpressions;

namespace Outbox.Testing;

/// <summary>Validates server setting names and writes them as <c>postgresql.conf</c> lines or <c>-c</c> arguments.</summary>
internal static partial class PostgresSettings
{
    public static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || !SettingName().IsMatch(name))
        {
            throw new ArgumentException(
                $"'{name}' is not a PostgreSQL setting name (letters, digits, '_' and '.', such as 'max_slot_wal_keep_size').",
                nameof(name));
        }
    }

    public static string ToConfigurationLine(string name, string value)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(value);
        var quoted = value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal);
        return $"{name} = '{quoted}'";
    }

    [GeneratedRegex(@"\A[A-Za-z_][A-Za-z0-9_.]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex SettingName();
}
