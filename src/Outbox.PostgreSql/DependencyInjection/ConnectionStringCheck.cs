using System.Text.RegularExpressions;
using Npgsql;

namespace Outbox.PostgreSql;

/// <summary>
/// Parses a connection string the way Npgsql will, so that a malformed one fails at host start with a message that
/// names the option, instead of a raw Npgsql exception at first use. Never repeats the password.
/// </summary>
internal static partial class ConnectionStringCheck
{
    /// <summary>Returns why Npgsql refuses the connection string, naming the option, or <see langword="null"/> when it parses.</summary>
    public static string? Problem(string? connectionString, string option)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return $"{option} is required.";
        }

        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
            return null;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
        {
            // The outer message names the keyword or the position, not the value; still, never let a password through.
            var message = ex.Message;
            foreach (Match match in PasswordPattern().Matches(connectionString))
            {
                var password = match.Groups["value"].Value.Trim();
                if (password.Length > 0)
                {
                    message = message.Replace(password, "***", StringComparison.Ordinal);
                }
            }

            return $"{option} is not a valid Npgsql connection string: {message}";
        }
    }

    /// <summary>Throws <see cref="OutboxConfigurationException"/> naming the option when Npgsql refuses the connection string.</summary>
    public static string Validate(string? connectionString, string option) =>
        Problem(connectionString, option) is { } problem ? throw new OutboxConfigurationException(problem) : connectionString!;

    [GeneratedRegex(@"(?:password|pwd)\s*=\s*(?<value>[^;]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PasswordPattern();
}
