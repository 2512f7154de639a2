using System.Diagnostics;
using System.Globalization;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>Progress lines with the time since the start, to standard error and to <c>chaos.log</c> in the log directory.</summary>
public sealed class RunLog : IDisposable
{
    private readonly TextWriter _console;
    private readonly StreamWriter _file;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();

    public RunLog(string directory, TextWriter console)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        _console = console;
        _file = new StreamWriter(Path.Combine(directory, "chaos.log")) { AutoFlush = true };
    }

    public string Directory { get; }

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Line(string message)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,7:0.0}s] {message}");
        lock (_gate)
        {
            _console.WriteLine(line);
            _file.WriteLine(line);
        }
    }

    public void Dispose() => _file.Dispose();
}
