using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace Outbox;

/// <summary>
/// The lane of an aggregate id: XxHash32 (seed 0) of its UTF-8 bytes modulo the lane count. Stable across processes,
/// platforms and versions, unlike <see cref="string.GetHashCode()"/>; changing it is a breaking change of the row format.
/// </summary>
internal static class LaneHash
{
    public static int Compute(string aggregateId, int laneCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(laneCount, 1);
        var max = Encoding.UTF8.GetMaxByteCount(aggregateId.Length);
        byte[]? rented = null;
        var buffer = max <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var length = Encoding.UTF8.GetBytes(aggregateId, buffer);
            var hash = XxHash32.HashToUInt32(buffer[..length]);
            return (int)(hash % (uint)laneCount);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
