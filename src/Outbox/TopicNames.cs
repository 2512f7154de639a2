namespace Outbox;

/// <summary>Rules for Kafka topic names.</summary>
internal static class TopicNames
{
    public const int MaxLength = 249;

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
}
