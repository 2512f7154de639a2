using System.Text;
using System.Text.Unicode;

namespace Outbox.PostgreSql.Inbox;

/// <summary>Record keys and values as text: UTF-8 when they are valid UTF-8, else <c>base64:</c> and their base64.</summary>
internal static class ParkedKeyText
{
    public const string Base64Prefix = "base64:";

    public static string? Format(byte[]? bytes)
    {
        if (bytes is null)
        {
            return null;
        }

        if (Utf8.IsValid(bytes))
        {
            var text = Encoding.UTF8.GetString(bytes);
            if (!text.StartsWith(Base64Prefix, StringComparison.Ordinal))
            {
                return text;
            }
        }

        return Base64Prefix + Convert.ToBase64String(bytes);
    }

    /// <exception cref="ArgumentException">The key starts with <c>base64:</c> and the rest is not base64.</exception>
    public static byte[]? Parse(string? key)
    {
        if (key is null)
        {
            return null;
        }

        if (!key.StartsWith(Base64Prefix, StringComparison.Ordinal))
        {
            return Encoding.UTF8.GetBytes(key);
        }

        try
        {
            return Convert.FromBase64String(key[Base64Prefix.Length..]);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException($"The key '{key}' starts with '{Base64Prefix}' but the rest is not base64.", nameof(key), ex);
        }
    }
}
