using System.Diagnostics;
using System.Text;
using Outbox.ChaosTests.Orchestration;
using Xunit.Abstractions;

namespace Outbox.ChaosTests.Infrastructure;

/// <summary>
/// Runs this assembly's chaos command as a child process, the way a user runs it, and kills it with its whole process
/// tree when the test ends early or it takes too long. Its standard input stays open: when this process dies, it closes,
/// and the runner stops (<c>--exit-on-stdin-eof</c>).
/// </summary>
public sealed class RunnerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly ITestOutputHelper _output;
    private readonly Lock _gate = new();

    private RunnerProcess(Process process, ITestOutputHelper output)
    {
        _process = process;
        _output = output;
    }

    public static RunnerProcess Start(ITestOutputHelper output, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(DotnetHost.Muxer)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(DotnetHost.EntryAssembly);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo };
        var runner = new RunnerProcess(process, output);
        process.OutputDataReceived += (_, e) => runner.OnLine(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => runner.OnLine(e.Data, isError: true);
        process.Start();
        ChildProcessRegistry.Add(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output.WriteLine($"started: {DotnetHost.Muxer} {DotnetHost.EntryAssembly} {string.Join(" ", arguments)}");
        return runner;
    }

    /// <summary>Waits for the exit; returns the exit code and standard output.</summary>
    public async Task<(int ExitCode, string Stdout)> WaitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            ChildProcessRegistry.Kill(_process);
            throw new TimeoutException($"The chaos runner did not finish within {timeout.TotalMinutes:0} min; it was killed with its children.");
        }

        await _process.WaitForExitAsync();
        lock (_gate)
        {
            return (_process.ExitCode, _stdout.ToString());
        }
    }

    public void Dispose()
    {
        ChildProcessRegistry.Kill(_process);
        ChildProcessRegistry.Remove(_process);
        _process.Dispose();
    }

    private void OnLine(string? line, bool isError)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            if (!isError)
            {
                _stdout.AppendLine(line);
            }

            try
            {
                _output.WriteLine(line);
            }
            catch (InvalidOperationException)
            {
                // The test already ended.
            }
        }
    }
}
