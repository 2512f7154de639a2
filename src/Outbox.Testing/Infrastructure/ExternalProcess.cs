using System.Diagnostics;

namespace Outbox.Testing;

/// <summary>Runs command-line tools (initdb, pg_ctl, chown) and captures their output.</summary>
internal static class ExternalProcess
{
    public static async Task<ProcessResult> RunAsync(
        ProcessCommand command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var process = Start(command);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"'{command}' did not finish within {timeout.TotalSeconds:0} s.");
        }

        return new ProcessResult(
            process.ExitCode,
            await stdout.ConfigureAwait(false),
            await stderr.ConfigureAwait(false));
    }

    /// <summary>Blocking variant for process-exit handlers, where nothing may be awaited.</summary>
    public static ProcessResult Run(ProcessCommand command, TimeSpan timeout)
    {
        using var process = Start(command);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            Kill(process);
            return new ProcessResult(-1, string.Empty, $"'{command}' did not finish within {timeout.TotalSeconds:0} s.");
        }

        // WaitForExit(TimeSpan) returned true, so both streams reached their end.
        return new ProcessResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static Process Start(ProcessCommand command)
    {
        var startInfo = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in command.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // A directory the tool (possibly running as another user) can enter; never our own, which may be unreadable to it.
        startInfo.WorkingDirectory = command.WorkingDirectory is not null && Directory.Exists(command.WorkingDirectory)
            ? command.WorkingDirectory
            : Path.GetPathRoot(Path.GetTempPath()) ?? "/";

        // Variables that would silently redirect PostgreSQL tools elsewhere.
        foreach (var name in new[] { "PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE", "PGOPTIONS" })
        {
            startInfo.Environment.Remove(name);
        }

        return Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start '{command.FileName}'.");
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}
