namespace Outbox;

/// <summary>Rules for Kafka topic names: 1 to 249 characters from <c>[a-zA-Z0-9._-]</c>, and not <c>.</c> or <c>..</c>.</summary>
internal static class TopicNames
{
    public const int MaxLength = 249;

    /// <summary>The rule, for messages.</summary>
    public const string Rule = "Kafka topic names have 1 to 249 characters from [a-zA-Z0-9._-] and are not '.' or '..'";

    /// <summary>Whether the value may be part of a topic name: legal characters, 1 to 249 of them.</summary>
    public static bool IsValidTopicPart(string value)
    {
        if (value.Length == 0 || value.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a broker accepts the value as a whole topic name (what <see cref="IsValidTopicPart"/> checks, and not <c>.</c> or <c>..</c>).</summary>
    public static bool IsValidTopicName(string value) => IsValidTopicPart(value) && value is not ("." or "..");
}
