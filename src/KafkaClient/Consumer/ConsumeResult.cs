using KafkaClient.Producer;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Consumer;

/// <summary>Special offsets understood by <c>Seek</c> and <c>Assign</c>.</summary>
public static class Offset
{
    /// <summary>The oldest record still in the partition (Java: <c>seekToBeginning</c>).</summary>
    public const long Beginning = -2;

    /// <summary>After the newest record: only records written from now on (Java: <c>seekToEnd</c>).</summary>
    public const long End = -1;

    /// <summary>The committed offset of the group, or <see cref="ConsumerOptions.AutoOffsetReset"/> when there is none.</summary>
    public const long Stored = -1000;
}

/// <summary>
/// The headers of a consumed record, read in place from the fetch buffer. Enumerate with <c>foreach</c>
/// (no allocation; each header's key is decoded only if asked for), look one up with
/// <see cref="TryGetLastValue"/>, or copy them all with <see cref="ToList"/>.
/// </summary>
public readonly struct ConsumedHeaders
{
    private readonly RecordHeaderEnumerator _headers;

    internal ConsumedHeaders(RecordHeaderEnumerator headers, int count)
    {
        _headers = headers;
        Count = count;
    }

    /// <summary>The number of headers (a key may repeat).</summary>
    public int Count { get; }

    /// <summary>Enumerates the headers in order.</summary>
    public RecordHeaderEnumerator GetEnumerator() => _headers;

    /// <summary>Finds the last header named <paramref name="key"/> (Java's <c>Headers.lastHeader</c>) without allocating.</summary>
    /// <returns>False when no header has that key. A header with a null value returns true with an empty value.</returns>
    public bool TryGetLastValue(string key, out ReadOnlyMemory<byte> value)
    {
        ArgumentNullException.ThrowIfNull(key);
        value = default;
        bool found = false;
        if (Count == 0)
        {
            return false;
        }
        Span<byte> utf8 = key.Length <= 128 ? stackalloc byte[key.Length * 3] : new byte[System.Text.Encoding.UTF8.GetMaxByteCount(key.Length)];
        int length = System.Text.Encoding.UTF8.GetBytes(key, utf8);
        ReadOnlySpan<byte> wanted = utf8[..length];
        foreach (var header in _headers)
        {
            if (header.KeyUtf8.SequenceEqual(wanted))
            {
                value = header.ValueMemory;
                found = true;
            }
        }
        return found;
    }

    /// <summary>Copies every header (keys decoded, values copied) into a list the caller may keep.</summary>
    public List<Header> ToList()
    {
        var list = new List<Header>(Count);
        foreach (var header in _headers)
        {
            list.Add(new Header(header.GetKey(), header.IsValueNull ? null : header.Value.ToArray()));
        }
        return list;
    }
}

/// <summary>
/// One consumed record. A value type: consuming allocates nothing for it. Keys and values read with
/// <see cref="Serialization.Deserializers.Memory"/> and the <see cref="Headers"/> point into the consumer's
/// buffers and are valid until the next consume call on the consumer (or until a runner handler returns).
/// </summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public readonly struct ConsumeResult<TKey, TValue>
{
    internal ConsumeResult(string topic, int partition, long offset, int leaderEpoch, long timestampMs, TimestampType timestampType, TKey key, TValue value, ConsumedHeaders headers)
    {
        Topic = topic;
        Partition = partition;
        Offset = offset;
        LeaderEpoch = leaderEpoch;
        TimestampMs = timestampMs;
        TimestampType = timestampType;
        Key = key;
        Value = value;
        Headers = headers;
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>The partition.</summary>
    public int Partition { get; }

    /// <summary>The record's offset.</summary>
    public long Offset { get; }

    /// <summary>The leader epoch of the batch that holds the record, or -1 when the broker did not record one.</summary>
    public int LeaderEpoch { get; }

    /// <summary>The timestamp in milliseconds since the Unix epoch.</summary>
    public long TimestampMs { get; }

    /// <summary>The timestamp.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs);

    /// <summary>Whether <see cref="Timestamp"/> is the producer's create time or the broker's log-append time.</summary>
    public TimestampType TimestampType { get; }

    /// <summary>The deserialized key.</summary>
    public TKey Key { get; }

    /// <summary>The deserialized value.</summary>
    public TValue Value { get; }

    /// <summary>The record's headers.</summary>
    public ConsumedHeaders Headers { get; }

    /// <summary>The partition of the record.</summary>
    public TopicPartition TopicPartition => new(Topic, Partition);

    /// <summary>The position to commit once this record is processed: its offset + 1, with its leader epoch.</summary>
    public TopicPartitionOffset NextOffset => new(new TopicPartition(Topic, Partition), Offset + 1, LeaderEpoch);

    /// <inheritdoc/>
    public override string ToString() => $"{Topic}[{Partition}]@{Offset}";
}
