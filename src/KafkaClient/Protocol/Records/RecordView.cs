using System.Text;

namespace KafkaClient.Protocol.Records;

/// <summary>
/// One record of a batch, read in place: key, value and headers are slices of the batch (or of the
/// reader's decompression buffer), nothing is copied. Valid as long as the memory it points into:
/// the record set given to the reader, or for a compressed batch until the reader decodes the next one.
/// </summary>
public readonly struct RecordView
{
    private readonly ReadOnlyMemory<byte> _source;
    private readonly int _keyStart;
    private readonly int _keyLength;
    private readonly int _valueStart;
    private readonly int _valueLength;
    private readonly int _headersStart;

    internal RecordView(
        ReadOnlyMemory<byte> source,
        long offset,
        long timestamp,
        byte attributes,
        int keyStart,
        int keyLength,
        int valueStart,
        int valueLength,
        int headersStart,
        int headerCount)
    {
        _source = source;
        Offset = offset;
        Timestamp = timestamp;
        Attributes = attributes;
        _keyStart = keyStart;
        _keyLength = keyLength;
        _valueStart = valueStart;
        _valueLength = valueLength;
        _headersStart = headersStart;
        HeaderCount = headerCount;
    }

    /// <summary>The record's offset in the partition (batch base offset plus its offset delta).</summary>
    public long Offset { get; }

    /// <summary>
    /// The record's timestamp in milliseconds since the Unix epoch: base timestamp plus delta, or the
    /// batch's max timestamp when the batch uses <see cref="TimestampType.LogAppendTime"/>.
    /// </summary>
    public long Timestamp { get; }

    /// <summary>The record-level attributes byte (unused by Kafka today).</summary>
    public byte Attributes { get; }

    /// <summary>True when the key is null (as opposed to empty).</summary>
    public bool IsKeyNull => _keyLength < 0;

    /// <summary>The key bytes; empty when null.</summary>
    public ReadOnlySpan<byte> Key => _keyLength <= 0 ? default : _source.Span.Slice(_keyStart, _keyLength);

    /// <summary>The key bytes as memory; empty when null.</summary>
    public ReadOnlyMemory<byte> KeyMemory => _keyLength <= 0 ? default : _source.Slice(_keyStart, _keyLength);

    /// <summary>True when the value is null (a tombstone).</summary>
    public bool IsValueNull => _valueLength < 0;

    /// <summary>The value bytes; empty when null.</summary>
    public ReadOnlySpan<byte> Value => _valueLength <= 0 ? default : _source.Span.Slice(_valueStart, _valueLength);

    /// <summary>The value bytes as memory; empty when null.</summary>
    public ReadOnlyMemory<byte> ValueMemory => _valueLength <= 0 ? default : _source.Slice(_valueStart, _valueLength);

    /// <summary>Number of headers.</summary>
    public int HeaderCount { get; }

    /// <summary>The headers, decoded lazily while enumerating (they were validated when the record was read).</summary>
    public RecordHeaderEnumerator Headers => new(_source, _headersStart, HeaderCount);
}

/// <summary>One header of a <see cref="RecordView"/>, read in place.</summary>
public readonly struct RecordHeaderView
{
    private readonly ReadOnlyMemory<byte> _source;
    private readonly int _keyStart;
    private readonly int _keyLength;
    private readonly int _valueStart;
    private readonly int _valueLength;

    internal RecordHeaderView(ReadOnlyMemory<byte> source, int keyStart, int keyLength, int valueStart, int valueLength)
    {
        _source = source;
        _keyStart = keyStart;
        _keyLength = keyLength;
        _valueStart = valueStart;
        _valueLength = valueLength;
    }

    /// <summary>The key's UTF-8 bytes.</summary>
    public ReadOnlySpan<byte> KeyUtf8 => _source.Span.Slice(_keyStart, _keyLength);

    /// <summary>Decodes the key to a string (allocates).</summary>
    public string GetKey() => Encoding.UTF8.GetString(KeyUtf8);

    /// <summary>True when the value is null (as opposed to empty).</summary>
    public bool IsValueNull => _valueLength < 0;

    /// <summary>The value bytes; empty when null.</summary>
    public ReadOnlySpan<byte> Value => _valueLength <= 0 ? default : _source.Span.Slice(_valueStart, _valueLength);

    /// <summary>The value bytes as memory; empty when null.</summary>
    public ReadOnlyMemory<byte> ValueMemory => _valueLength <= 0 ? default : _source.Slice(_valueStart, _valueLength);
}

/// <summary>Enumerates the headers of a <see cref="RecordView"/> (use with <c>foreach</c>).</summary>
public struct RecordHeaderEnumerator
{
    private readonly ReadOnlyMemory<byte> _source;
    private int _position;
    private int _remaining;

    internal RecordHeaderEnumerator(ReadOnlyMemory<byte> source, int position, int count)
    {
        _source = source;
        _position = position;
        _remaining = count;
        Current = default;
    }

    /// <summary>The current header.</summary>
    public RecordHeaderView Current { get; private set; }

    /// <summary>Returns this enumerator, for <c>foreach</c>.</summary>
    public readonly RecordHeaderEnumerator GetEnumerator() => this;

    /// <summary>Advances to the next header.</summary>
    public bool MoveNext()
    {
        if (_remaining <= 0)
        {
            return false;
        }
        // Bounds were validated when the record was read, so the varints are trusted here.
        ReadOnlySpan<byte> span = _source.Span;
        int p = _position;
        int keyLength = RecordReading.ReadVarint(span, ref p, span.Length);
        int keyStart = p;
        p += keyLength;
        int valueLength = RecordReading.ReadVarint(span, ref p, span.Length);
        int valueStart = p;
        p += Math.Max(valueLength, 0);
        Current = new RecordHeaderView(_source, keyStart, keyLength, valueStart, valueLength);
        _position = p;
        _remaining--;
        return true;
    }
}
