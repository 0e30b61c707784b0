namespace KafkaClient.Producer;

/// <summary>
/// Chooses a record's partition from its serialized key and value. Return a partition index in
/// <c>[0, partitionCount)</c>, or <see cref="Partitioners.NoPreference"/> to let the producer
/// spread the record with its uniform sticky strategy (KIP-794).
/// </summary>
public interface IPartitioner
{
    /// <summary>The partition for a record.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="partitionCount">How many partitions the topic has.</param>
    /// <param name="key">The serialized key (empty when <paramref name="keyIsNull"/>).</param>
    /// <param name="keyIsNull">True when the record has no key.</param>
    int Partition(string topic, int partitionCount, ReadOnlySpan<byte> key, bool keyIsNull);
}

/// <summary>The built-in partitioners and the Java-compatible key hash.</summary>
public static class Partitioners
{
    /// <summary>Returned by a partitioner to leave the choice to the producer's sticky strategy.</summary>
    public const int NoPreference = -1;

    /// <summary>
    /// The Java client's default: keyed records go to <c>toPositive(murmur2(key)) % partitionCount</c>
    /// (the same partition Java, and librdkafka with <c>murmur2_random</c>, choose); records
    /// without a key are spread by the uniform sticky strategy (KIP-480/KIP-794).
    /// </summary>
    public static IPartitioner Default { get; } = new DefaultPartitioner();

    /// <summary>Every record, keyed or not, to the next partition in turn (per topic).</summary>
    public static IPartitioner RoundRobin => new RoundRobinPartitioner();

    /// <summary>Ignore keys: every record is spread by the uniform sticky strategy.</summary>
    public static IPartitioner UniformSticky { get; } = new UniformStickyPartitioner();

    /// <summary>
    /// Kafka's murmur2 hash of <paramref name="data"/> (MurmurHash2, 32-bit, seed 0x9747b28c), as the
    /// Java client computes it for partitioning.
    /// </summary>
    public static int Murmur2(ReadOnlySpan<byte> data)
    {
        const uint m = 0x5bd1e995;
        const int r = 24;
        int length = data.Length;
        uint h = 0x9747b28c ^ (uint)length;
        int blocks = length / 4;
        for (int i = 0; i < blocks; i++)
        {
            uint k = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i * 4, 4));
            k *= m;
            k ^= k >> r;
            k *= m;
            h *= m;
            h ^= k;
        }
        int tail = length & ~3;
        switch (length % 4)
        {
            case 3:
                h ^= (uint)data[tail + 2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)data[tail + 1] << 8;
                goto case 1;
            case 1:
                h ^= data[tail];
                h *= m;
                break;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return (int)h;
    }

    /// <summary>The Java client's partition for a key: <c>(murmur2(key) &amp; 0x7fffffff) % partitionCount</c>.</summary>
    public static int PartitionForKey(ReadOnlySpan<byte> key, int partitionCount) => (Murmur2(key) & 0x7fffffff) % partitionCount;

    private sealed class DefaultPartitioner : IPartitioner
    {
        public int Partition(string topic, int partitionCount, ReadOnlySpan<byte> key, bool keyIsNull) =>
            keyIsNull ? NoPreference : PartitionForKey(key, partitionCount);
    }

    private sealed class UniformStickyPartitioner : IPartitioner
    {
        public int Partition(string topic, int partitionCount, ReadOnlySpan<byte> key, bool keyIsNull) => NoPreference;
    }

    private sealed class RoundRobinPartitioner : IPartitioner
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox> _counters = new();

        public int Partition(string topic, int partitionCount, ReadOnlySpan<byte> key, bool keyIsNull)
        {
            var counter = _counters.GetOrAdd(topic, static _ => new StrongBox());
            return (int)((uint)Interlocked.Increment(ref counter.Value) % (uint)partitionCount);
        }

        private sealed class StrongBox
        {
            public int Value = -1;
        }
    }
}

/// <summary>
/// The uniform sticky choice of one topic (KIP-480/KIP-794, Java's <c>BuiltInPartitioner</c>):
/// records without a preferred partition stay on one partition until a batch worth of bytes went to
/// it, then move to another one at random. The bytes counted are what each record really added to
/// its batch (as the accumulator measured it: varint lengths, headers, and the batch header when
/// the record opened a batch), so a switch falls on a batch boundary. Not thread-safe: the producer
/// locks it.
/// </summary>
internal sealed class StickyPartitionChoice
{
    private readonly int _batchSize;
    private readonly Random _random;
    private int _partition = -1;
    private long _producedBytes;

    public StickyPartitionChoice(int batchSize, Random? random = null)
    {
        _batchSize = batchSize;
        _random = random ?? Random.Shared;
    }

    /// <summary>The partition for the next record without a preference.</summary>
    public int Choose(int partitionCount)
    {
        if (_partition < 0 || _partition >= partitionCount)
        {
            Move(partitionCount);
        }
        return _partition;
    }

    /// <summary>
    /// Counts a record appended to <paramref name="partition"/>. Moves on at a batch boundary: when
    /// the record's batch has no room for another like it and another would also pass a batch worth
    /// of bytes sent to this partition; or in any case after twice the batch size (Java's cap). Java
    /// moves once a batch worth of bytes went and the open batch is full; waiting for the boundary
    /// does not strand a part-filled batch (one a linger cut short, or the first record of a new one).
    /// </summary>
    /// <param name="partition">Where the record went (counted only if it is the current choice).</param>
    /// <param name="partitionCount">The topic's partition count.</param>
    /// <param name="appendedBytes">What the record added to its batch.</param>
    /// <param name="batchFull">True when the partition's open batch has no room for another record of this size.</param>
    public void OnAppended(int partition, int partitionCount, int appendedBytes, bool batchFull)
    {
        if (partition != _partition)
        {
            return;
        }
        _producedBytes += appendedBytes;
        if ((batchFull && _producedBytes + appendedBytes > _batchSize) || _producedBytes >= 2L * _batchSize)
        {
            Move(partitionCount);
        }
    }

    private void Move(int partitionCount)
    {
        int next = _random.Next(partitionCount);
        if (partitionCount > 1 && next == _partition)
        {
            next = (next + 1) % partitionCount;
        }
        _partition = next;
        _producedBytes = 0;
    }
}
