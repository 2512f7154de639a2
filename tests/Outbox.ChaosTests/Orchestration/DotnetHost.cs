using System.Runtime.InteropServices;

namespace Outbox.ChaosTests.Orchestration;

/// <summary>How to start this assembly as another process: the <c>dotnet</c> muxer that runs this runtime, and the assembly.</summary>
public static class DotnetHost
{
    public static string Muxer { get; } = FindMuxer();

    public static string EntryAssembly { get; } = typeof(Program).Assembly.Location;

    private static string FindMuxer()
    {
        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } current && string.Equals(Path.GetFileName(current), name, StringComparison.Ordinal))
        {
            return current;
        }

        // The shared runtime lives at <root>/shared/Microsoft.NETCore.App/<version>/; the muxer at <root>/dotnet.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(root, name);
        if (File.Exists(candidate))
        {
            return candidate;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath ? hostPath : name;
    }
}
