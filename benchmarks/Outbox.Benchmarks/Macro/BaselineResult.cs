namespace Outbox.Benchmarks.Macro;

/// <summary>One raw baseline figure: rows (or records) per second with nothing of the library in the way.</summary>
internal sealed record BaselineResult(string Name, int Rows, int Workers, double Seconds)
{
    /// <summary>For <c>pgoutput_decode</c>: when its writers had committed every row, in seconds from the start.</summary>
    public double? WritersSeconds { get; init; }

    public double PerSecond => Rows / Seconds;
}
