using System.Runtime.InteropServices;

namespace Outbox.Testing;

/// <summary>A NUL-terminated UTF-8 copy of a string in unmanaged memory, for C calls.</summary>
internal readonly unsafe struct Utf8String : IDisposable
{
    private readonly nint _memory;

    public Utf8String(string value) => _memory = Marshal.StringToCoTaskMemUTF8(value);

    public byte* Pointer => (byte*)_memory;

    public void Dispose() => Marshal.FreeCoTaskMem(_memory);
}
