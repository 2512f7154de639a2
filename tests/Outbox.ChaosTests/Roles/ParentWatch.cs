using System.Diagnostics;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// Ends a child process with its parent: the returned token is cancelled when standard input reaches its end (the
/// parent closed it to stop the child, or the parent died and the pipe closed) or when the parent process is gone.
/// </summary>
public static class ParentWatch
{
    public static CancellationToken Start(int? parentPid)
    {
        var stop = new CancellationTokenSource();
        var stdin = new Thread(() =>
        {
            try
            {
                using var input = Console.OpenStandardInput();
                var buffer = new byte[256];
                while (input.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (IOException)
            {
            }

            stop.Cancel();
        })
        { IsBackground = true, Name = "stdin watch" };
        stdin.Start();

        if (parentPid is { } pid)
        {
            var parent = new Thread(() =>
            {
                while (!stop.IsCancellationRequested && IsAlive(pid))
                {
                    stop.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                }

                stop.Cancel();
            })
            { IsBackground = true, Name = "parent watch" };
            parent.Start();
        }

        return stop.Token;
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
