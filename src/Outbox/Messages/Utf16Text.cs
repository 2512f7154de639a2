namespace Outbox;

/// <summary>Finds text that is not valid UTF-16 (a lone surrogate), which UTF-8 and JSON writers silently replace by U+FFFD.</summary>
internal static class Utf16Text
{
    /// <summary>Returns the index of the first lone surrogate, or -1 when the text is valid UTF-16. O(n), no allocation:
    /// a vectorized search skips to each surrogate, and only those are looked at.</summary>
    public static int IndexOfInvalid(ReadOnlySpan<char> text)
    {
        var offset = 0;
        while (true)
        {
            var found = text[offset..].IndexOfAnyInRange('\uD800', '\uDFFF');
            if (found < 0)
            {
                return -1;
            }

            var i = offset + found;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                offset = i + 2;
                continue;
            }

            return i;
        }
    }

    /// <summary>
    /// Whether serialized JSON may hold a U+FFFD that a writer put in place of a lone surrogate: it holds U+FFFD, raw or
    /// escaped. Rare in real payloads, so the exact (slower) check runs only then. Two vectorized scans, no allocation.
    /// </summary>
    public static bool MayHoldReplacement(ReadOnlySpan<char> json) =>
        json.Contains('\uFFFD') || json.IndexOf("\\uFFFD", StringComparison.OrdinalIgnoreCase) >= 0;

    /// <summary>Describes the lone surrogate at an index, for messages.</summary>
    public static string Describe(ReadOnlySpan<char> text, int index) =>
        $"a lone surrogate U+{(int)text[index]:X4} at index {index}";
}
