using System.Diagnostics;
using System.Globalization;

namespace MovieWatch;

/// <summary>
/// Start-up lines with the seconds since the process started, so the first minutes are never silent: which server is
/// starting, the schema, the seed data, the relays and consumers.
/// </summary>
public sealed class StartupProgress(TextWriter writer)
{
    private static readonly DateTime ProcessStarted = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    /// <summary>Gets a writer of nothing, for tests.</summary>
    public static StartupProgress None { get; } = new(TextWriter.Null);

    /// <summary>Writes one line prefixed with the seconds since the process started.</summary>
    public void Step(string message) =>
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{(DateTime.UtcNow - ProcessStarted).TotalSeconds,6:0.0} s] {message}"));
}
