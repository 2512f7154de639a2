using System.Diagnostics;

namespace Outbox.ChaosTests.Roles;

/// <summary>
/// Ends a child process with its parent: the returned token is cancelled when standard input reaches its end (the
/// parent closed it to stop the child, or the parent died and the pipe closed) or when the parent process is gone.
/// The lines the parent writes meanwhile are commands: <see cref="PauseLine"/> and <see cref="ResumeLine"/> set
/// <see cref="Paused"/> (the writers' back-pressure).
/// </summary>
public static class ParentWatch
{
    public const string PauseLine = "pause";
    public const string ResumeLine = "resume";

    private static volatile bool _paused;

    /// <summary>Gets a value indicating whether the parent asked this process to hold off new work.</summary>
    public static bool Paused => _paused;

    public static CancellationToken Start(int? parentPid)
    {
        var stop = new CancellationTokenSource();
        var stdin = new Thread(() =>
        {
            try
            {
                using var input = new StreamReader(Console.OpenStandardInput());
                while (input.ReadLine() is { } line)
                {
                    _paused = line switch
                    {
                        PauseLine => true,
                        ResumeLine => false,
                        _ => _paused,
                    };
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
