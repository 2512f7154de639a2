using System.Runtime.InteropServices;

namespace Outbox.Testing;

/// <summary>Who we run as: PostgreSQL's <c>initdb</c> and <c>postgres</c> refuse to run as root.</summary>
internal static unsafe class UnixUser
{
    private static readonly Lazy<uint?> s_effectiveUserId = new(DetectEffectiveUserId);

    public static bool IsRoot => EffectiveUserId is 0 || (EffectiveUserId is null && !OperatingSystem.IsWindows()
                                                             && string.Equals(Environment.UserName, "root", StringComparison.Ordinal));

    /// <summary>Our effective user id (<c>geteuid</c>), or <see langword="null"/> on Windows or when it cannot be read.</summary>
    public static uint? EffectiveUserId => s_effectiveUserId.Value;

    /// <summary>
    /// The user id that owns <paramref name="path"/> (not following a final symbolic link), or <see langword="null"/>
    /// when it cannot be read: no such path, or not Linux (read with <c>statx</c>, whose layout is the same on every
    /// Linux architecture).
    /// </summary>
    public static uint? OwnerOf(string path)
    {
        if (!OperatingSystem.IsLinux()
            || !NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "statx", out var statx))
        {
            return null;
        }

        const int AtCurrentDirectory = -100;
        const int AtSymlinkNoFollow = 0x100;
        const uint StatxUid = 0x8;
        // struct statx: __u32 stx_mask, __u32 stx_blksize, __u64 stx_attributes, __u32 stx_nlink, __u32 stx_uid, ...
        const int UidOffset = 20;
        var buffer = stackalloc byte[256];
        var name = Marshal.StringToCoTaskMemUTF8(path);
        try
        {
            var result = ((delegate* unmanaged<int, byte*, int, uint, byte*, int>)statx)(
                AtCurrentDirectory, (byte*)name, AtSymlinkNoFollow, StatxUid, buffer);
            return result == 0 ? *(uint*)(buffer + UidOffset) : null;
        }
        finally
        {
            Marshal.FreeCoTaskMem(name);
        }
    }

    private static uint? DetectEffectiveUserId()
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        // geteuid lives in the C library that the host process is linked against.
        return NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "geteuid", out var geteuid)
            ? ((delegate* unmanaged<uint>)geteuid)()
            : null;
    }
}
