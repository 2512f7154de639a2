namespace Outbox;

/// <summary>
/// Version 7 UUIDs (<see cref="Guid.CreateVersion7(DateTimeOffset)"/> from the injected <see cref="TimeProvider"/>) that are
/// strictly increasing within the process: the 12 <c>rand_a</c> bits carry a counter within a millisecond (RFC 9562, method 1).
/// EF Core may sort inserts of one table by key, so ids must follow enqueue order for events of one transaction to keep it.
/// </summary>
internal sealed class MonotonicUuidV7(TimeProvider timeProvider)
{
    private readonly Lock _lock = new();
    private long _lastMilliseconds;
    private int _counter;

    public Guid Next()
    {
        var now = timeProvider.GetUtcNow();
        long ms;
        int counter;
        lock (_lock)
        {
            ms = now.ToUnixTimeMilliseconds();
            if (ms > _lastMilliseconds)
            {
                _lastMilliseconds = ms;
                _counter = 0;
            }
            else if (++_counter > 0xFFF)
            {
                // Counter exhausted within this millisecond: borrow the next one (clock skew of at most a few ms).
                _lastMilliseconds++;
                _counter = 0;
            }

            ms = _lastMilliseconds;
            counter = _counter;
        }

        Span<byte> bytes = stackalloc byte[16];
        Guid.CreateVersion7(DateTimeOffset.FromUnixTimeMilliseconds(ms)).TryWriteBytes(bytes, bigEndian: true, out _);
        bytes[6] = (byte)(0x70 | ((counter >> 8) & 0x0F));
        bytes[7] = (byte)counter;
        return new Guid(bytes, bigEndian: true);
    }
}
