namespace Outbox.IntegrationTests.Conformance;

/// <summary>
/// The Java Kafka client's default partitioner for keyed records (<c>Utils.murmur2</c>, <c>toPositive</c>, modulo):
/// what Kafka Connect (and so Debezium) uses. The relays' publisher must put every key on the same partition.
/// </summary>
public static class KafkaMurmur2
{
    public static int Partition(byte[] key, int partitions) => (Hash(key) & 0x7fffffff) % partitions;

    public static int Hash(byte[] data)
    {
        unchecked
        {
            var length = data.Length;
            const int m = 0x5bd1e995;
            const int r = 24;
            var h = (int)0x9747b28c ^ length;
            var length4 = length / 4;
            for (var i = 0; i < length4; i++)
            {
                var i4 = i * 4;
                var k = (data[i4] & 0xff) + ((data[i4 + 1] & 0xff) << 8) + ((data[i4 + 2] & 0xff) << 16) + ((data[i4 + 3] & 0xff) << 24);
                k *= m;
                k ^= k >>> r;
                k *= m;
                h *= m;
                h ^= k;
            }

            var tail = length & ~3;
            switch (length % 4)
            {
                case 3:
                    h ^= (data[tail + 2] & 0xff) << 16;
                    h ^= (data[tail + 1] & 0xff) << 8;
                    h ^= data[tail] & 0xff;
                    h *= m;
                    break;
                case 2:
                    h ^= (data[tail + 1] & 0xff) << 8;
                    h ^= data[tail] & 0xff;
                    h *= m;
                    break;
                case 1:
                    h ^= data[tail] & 0xff;
                    h *= m;
                    break;
            }

            h ^= h >>> 13;
            h *= m;
            h ^= h >>> 15;
            return h;
        }
    }
}
