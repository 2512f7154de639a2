using System.Collections.Concurrent;
using System.Diagnostics;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>
/// Every child process this process started and that may still run: killed (with their own children) when this
/// process exits, however it exits short of SIGKILL. After a SIGKILL the children see their standard input close and
/// stop by themselves (<see cref="Roles.ParentWatch"/>).
/// </summary>
public static class ChildProcessRegistry
{
    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private static int _hooked;

    public static void Add(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            AppDomain.CurrentDomain.UnhandledException += (_, _) => KillAll();
            Console.CancelKeyPress += (_, _) => KillAll();
        }

        Live[process.Id] = process;
    }

    public static void Remove(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        Live.TryRemove(new KeyValuePair<int, Process>(process.Id, process));
    }

    public static void KillAll()
    {
        foreach (var process in Live.Values)
        {
            Kill(process);
        }
    }

    public static void Kill(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting right now.
        }
    }
}
