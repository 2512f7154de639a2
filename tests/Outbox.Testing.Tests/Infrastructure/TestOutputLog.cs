using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>Adapts a test's output to the <c>Log</c> options; output after the test ended is dropped.</summary>
internal static class TestOutputLog
{
    public static Action<string> For(ITestOutputHelper output) => line =>
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test has finished (a process-exit or background line); nobody is listening any more.
        }
    };
}
