namespace Outbox.Benchmarks.Macro;

/// <summary>One raw baseline figure: rows (or records) per second with nothing of the library in the way.</summary>
internal sealed record BaselineResult(string Name, int Rows, int Workers, double Seconds)
{
    public double PerSecond => Rows / Seconds;
}
