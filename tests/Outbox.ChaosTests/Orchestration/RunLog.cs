using System.Diagnostics;
using System.Globalization;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// Progress lines with the time since the start, to a console writer and to <c>chaos.log</c> in the log directory. A
/// run has a <see cref="ForRun">child log</see> of its own: its directory holds the run's process logs, its child
/// processes stamp their log lines with its <see cref="Elapsed"/> time, and its lines go to the parent, prefixed with
/// the run's name.
/// </summary>
public sealed class RunLog : IDisposable
{
    private readonly TextWriter? _console;
    private readonly StreamWriter? _file;
    private readonly RunLog? _parent;
    private readonly string _prefix = "";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();

    public RunLog(string directory, TextWriter console)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        _console = console;
        _file = new StreamWriter(Path.Combine(directory, "chaos.log")) { AutoFlush = true };
    }

    private RunLog(string directory, RunLog parent, string prefix)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        _parent = parent;
        _prefix = prefix;
    }

    public string Directory { get; }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>A log for one run, in the subdirectory <paramref name="name"/>, whose lines go here prefixed with the name.</summary>
    public RunLog ForRun(string name) => new(Path.Combine(Directory, name), this, name + ": ");

    public void Line(string message)
    {
        if (_parent is not null)
        {
            _parent.Line(_prefix + message);
            return;
        }

        var line = string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,7:0.0}s] {message}");
        lock (_gate)
        {
            _console!.WriteLine(line);
            _file!.WriteLine(line);
        }
    }

    public void Dispose() => _file?.Dispose();
}
