using System.Diagnostics;
using System.Globalization;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// A role process of a run (<c>dotnet Outbox.ChaosTests.dll ROLE --name N ...</c>), which may be killed and started again.
/// Its output goes to <c>NAME.log</c>; an exit that this class did not cause (a kill or a stop) is recorded as a crash.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly string _role;
    private readonly IReadOnlyList<string> _arguments;
    private readonly RunLog _log;
    private readonly StreamWriter _output;
    private readonly Lock _gate = new();
    private readonly List<string> _crashes = [];
    private Instance? _current;
    private int _starts;
    private bool _outputClosed;

    public ChildProcess(string name, string role, IReadOnlyList<string> arguments, RunLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        Name = name;
        _role = role;
        _arguments = arguments;
        _log = log;
        _output = new StreamWriter(Path.Combine(log.Directory, name + ".log")) { AutoFlush = true };
    }

    public string Name { get; }

    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _current is { Exited: false };
            }
        }
    }

    /// <summary>Gets the exits this class did not cause, with their exit codes.</summary>
    public IReadOnlyList<string> Crashes
    {
        get
        {
            lock (_gate)
            {
                return _crashes.ToList();
            }
        }
    }

    /// <summary>Gets the last <c>stats:</c> line the process printed.</summary>
    public string? StatsLine { get; private set; }

    public string LogPath => Path.Combine(_log.Directory, Name + ".log");

    public void Start()
    {
        var startInfo = new ProcessStartInfo(DotnetHost.Muxer)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        startInfo.ArgumentList.Add(DotnetHost.EntryAssembly);
        startInfo.ArgumentList.Add(_role);
        foreach (var argument in _arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.ArgumentList.Add("--name");
        startInfo.ArgumentList.Add(Name);
        startInfo.ArgumentList.Add("--parent");
        startInfo.ArgumentList.Add(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

        lock (_gate)
        {
            if (_current is { Exited: false })
            {
                throw new InvalidOperationException($"{Name} is already running.");
            }

            var number = ++_starts;
            var instance = new Instance(new Process { StartInfo = startInfo, EnableRaisingEvents = true }, number);
            instance.Process.OutputDataReceived += (_, e) => OnOutput(instance, e.Data, isError: false);
            instance.Process.ErrorDataReceived += (_, e) => OnOutput(instance, e.Data, isError: true);
            instance.Process.Exited += (_, _) => OnExited(instance);
            instance.Process.Start();
            ChildProcessRegistry.Add(instance.Process);
            instance.Process.BeginOutputReadLine();
            instance.Process.BeginErrorReadLine();
            _current = instance;
            Write(instance, string.Create(CultureInfo.InvariantCulture, $"--- start #{number}: pid {instance.Process.Id}"));
        }
    }

    public Task WaitReadyAsync(TimeSpan timeout)
    {
        Instance instance;
        lock (_gate)
        {
            instance = _current ?? throw new InvalidOperationException($"{Name} was not started.");
        }

        return instance.Ready.Task.WaitAsync(timeout);
    }

    /// <summary>Writes a command line to the role's standard input; ignored when it is not running.</summary>
    public void Send(string line)
    {
        Instance? instance;
        lock (_gate)
        {
            instance = _current;
        }

        if (instance is null || instance.Exited || instance.ExitExpected)
        {
            return;
        }

        try
        {
            lock (instance)
            {
                instance.Process.StandardInput.WriteLine(line);
                instance.Process.StandardInput.Flush();
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
            // It is exiting.
        }
    }

    /// <summary>SIGKILL, with every process the role started.</summary>
    public void Kill()
    {
        Instance? instance;
        lock (_gate)
        {
            instance = _current;
            if (instance is null || instance.Exited)
            {
                return;
            }

            instance.ExitExpected = true;
        }

        Write(instance, "--- SIGKILL");
        ChildProcessRegistry.Kill(instance.Process);

        // Dead before this returns: a restart right after must not find it still running.
        if (!instance.Process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"{Name} did not die within 30 s of SIGKILL.");
        }
    }

    /// <summary>Gets a value indicating whether the running instance is stopped by <see cref="Pause"/>.</summary>
    public bool IsPaused
    {
        get
        {
            lock (_gate)
            {
                return _current is { Exited: false, Paused: true };
            }
        }
    }

    /// <summary>SIGSTOP: the process stays, with its connections and whatever it was doing, until <see cref="Resume"/>.</summary>
    /// <returns>Whether it was running and is now stopped.</returns>
    public bool Pause() => Signal("STOP", paused: true);

    /// <summary>SIGCONT after <see cref="Pause"/>; does nothing when it is not paused.</summary>
    /// <returns>Whether it was paused and now runs again.</returns>
    public bool Resume() => Signal("CONT", paused: false);

    /// <summary>Closes standard input (the role stops gracefully) and waits; kills it when it takes longer than <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        Instance? instance;
        lock (_gate)
        {
            instance = _current;
            if (instance is null || instance.Exited)
            {
                return;
            }

            instance.ExitExpected = true;
        }

        // A stopped process would not read its closed input: wake it first.
        Resume();
        Write(instance, "--- stop");
        try
        {
            lock (instance)
            {
                instance.Process.StandardInput.Close();
            }
        }
        catch (IOException)
        {
        }

        try
        {
            await instance.Process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Write(instance, "--- did not stop in time: SIGKILL");
            _log.Line($"{Name} did not stop within {timeout.TotalSeconds:0} s: killed");
            ChildProcessRegistry.Kill(instance.Process);
            await instance.Process.WaitForExitAsync();
        }
    }

    public void Dispose()
    {
        Kill();
        lock (_gate)
        {
            _current?.Process.Dispose();
        }

        lock (_output)
        {
            _outputClosed = true;
            _output.Dispose();
        }
    }

    private bool Signal(string signal, bool paused)
    {
        Instance? instance;
        lock (_gate)
        {
            instance = _current;
            if (instance is null || instance.Exited || instance.Paused == paused)
            {
                return false;
            }

            instance.Paused = paused;
        }

        Write(instance, "--- SIG" + signal);
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, instance.Process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        if (!kill.WaitForExit(TimeSpan.FromSeconds(30)) || kill.ExitCode != 0)
        {
            // Gone meanwhile (its exit is recorded as such), or kill failed: either way it is not paused.
            lock (_gate)
            {
                instance.Paused = false;
            }

            return false;
        }

        return true;
    }

    private void OnOutput(Instance instance, string? line, bool isError)
    {
        if (line is null)
        {
            return;
        }

        if (!isError && line == Roles.RoleHost.ReadyLine)
        {
            instance.Ready.TrySetResult();
        }

        if (!isError && line.StartsWith(Roles.WriterStats.Prefix, StringComparison.Ordinal))
        {
            StatsLine = line;
        }

        Write(instance, (isError ? "E " : "O ") + line);
    }

    private void OnExited(Instance instance)
    {
        int code;
        try
        {
            code = instance.Process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            code = -1;
        }

        bool expected;
        lock (_gate)
        {
            instance.Exited = true;
            expected = instance.ExitExpected;
            if (!expected)
            {
                _crashes.Add(string.Create(CultureInfo.InvariantCulture, $"{Name} start #{instance.Number} exited by itself with code {code}"));
            }
        }

        ChildProcessRegistry.Remove(instance.Process);
        instance.Ready.TrySetException(new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{Name} exited with code {code} before it was ready; see {LogPath}")));
        Write(instance, string.Create(CultureInfo.InvariantCulture, $"--- exit code {code}{(expected ? "" : " (UNEXPECTED)")}"));
        if (!expected)
        {
            _log.Line(string.Create(CultureInfo.InvariantCulture, $"CRASH: {Name} exited by itself with code {code}; see {LogPath}"));
        }
    }

    private void Write(Instance instance, string line)
    {
        lock (_output)
        {
            if (_outputClosed)
            {
                return;
            }

            _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_log.Elapsed.TotalSeconds,7:0.000} #{instance.Number} {line}"));
        }
    }

    private sealed class Instance(Process process, int number)
    {
        public Process Process { get; } = process;

        public int Number { get; } = number;

        public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool ExitExpected { get; set; }

        public bool Exited { get; set; }

        public bool Paused { get; set; }
    }
}
