using System.Runtime.InteropServices;

namespace Outbox.Testing;

/// <summary>Who we run as: PostgreSQL's <c>initdb</c> and <c>postgres</c> refuse to run as root.</summary>
internal static unsafe class UnixUser
{
    private static readonly Lazy<bool> s_isRoot = new(DetectRoot);

    public static bool IsRoot => s_isRoot.Value;

    private static bool DetectRoot()
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        // geteuid lives in the C library that the host process is linked against.
        if (NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "geteuid", out var geteuid))
        {
            return ((delegate* unmanaged<uint>)geteuid)() == 0;
        }

        return string.Equals(Environment.UserName, "root", StringComparison.Ordinal);
    }
}
