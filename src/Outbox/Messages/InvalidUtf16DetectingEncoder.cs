using System.Text.Encodings.Web;

namespace Outbox;

/// <summary>
/// A <see cref="JavaScriptEncoder"/> that encodes exactly like the one it wraps and throws
/// <see cref="InvalidUtf16Exception"/> on text that is not valid UTF-16 (System.Text.Json replaces a lone surrogate by
/// U+FFFD without a signal and offers no setting to refuse it). Every string the writer escapes (values and property
/// names) passes through <see cref="FindFirstCharacterToEncode"/> first. Used only to confirm a suspicion: see
/// <see cref="OutboxMessageFactory"/>.
/// </summary>
internal sealed class InvalidUtf16DetectingEncoder(JavaScriptEncoder inner) : JavaScriptEncoder
{
    public override int MaxOutputCharactersPerInputCharacter => inner.MaxOutputCharactersPerInputCharacter;

    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        var index = Utf16Text.IndexOfInvalid(new ReadOnlySpan<char>(text, textLength));
        if (index >= 0)
        {
            throw new InvalidUtf16Exception(Utf16Text.Describe(new ReadOnlySpan<char>(text, textLength), index));
        }

        return inner.FindFirstCharacterToEncode(text, textLength);
    }

    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text) => inner.FindFirstCharacterToEncodeUtf8(utf8Text);

    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten) =>
        inner.TryEncodeUnicodeScalar(unicodeScalar, buffer, bufferLength, out numberOfCharactersWritten);

    public override bool WillEncode(int unicodeScalar) => inner.WillEncode(unicodeScalar);
}
