using System.Runtime.CompilerServices;
using KafkaClient.Errors;

namespace KafkaClient.Protocol.Records;

/// <summary>
/// Enumerates the records of one batch (use with <c>foreach</c>); returned by
/// <see cref="RecordBatchReader.ReadRecords"/>. Each record's structure is checked as it is
/// read: every length must fit inside the record, the fields must fill the record exactly, and
/// the batch must hold exactly its declared number of records. Violations raise
/// <see cref="KafkaProtocolException"/>. Allocates nothing.
/// </summary>
public ref struct RecordEnumerator
{
    /// <summary>Smallest record body: attributes, timestamp delta, offset delta, key length, value length, header count.</summary>
    private const int MinRecordBodySize = 6;

    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private readonly long _baseOffset;
    private readonly long _baseTimestamp;
    private readonly long _logAppendTime;
    private readonly bool _useLogAppendTime;
    private readonly int _recordCount;
    private int _position;
    private int _index;

    internal RecordEnumerator(
        ReadOnlyMemory<byte> records, int recordCount, long baseOffset, long baseTimestamp, long? logAppendTime)
    {
        _memory = records;
        _span = records.Span;
        _recordCount = recordCount;
        _baseOffset = baseOffset;
        _baseTimestamp = baseTimestamp;
        _useLogAppendTime = logAppendTime.HasValue;
        _logAppendTime = logAppendTime.GetValueOrDefault();
        _position = 0;
        _index = 0;
        Current = default;
    }

    /// <summary>The current record.</summary>
    public RecordView Current { get; private set; }

    /// <summary>Returns this enumerator, for <c>foreach</c>.</summary>
    public readonly RecordEnumerator GetEnumerator() => this;

    /// <summary>Reads the next record.</summary>
    /// <exception cref="KafkaProtocolException">The record or the batch is malformed.</exception>
    // Hot-path methods of the consume path are compiled once, fully optimized: with tiered PGO each was compiled
    // three times while a consumer was measured, and the JIT was a large share of a short run's CPU (DESIGN.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool MoveNext()
    {
        ReadOnlySpan<byte> span = _span;
        if (_index >= _recordCount)
        {
            if (_position != span.Length)
            {
                throw Malformed($"{span.Length - _position} bytes follow the declared {_recordCount} records");
            }
            return false;
        }
        if (_position >= span.Length)
        {
            throw Malformed($"the records end after {_index} of the declared {_recordCount}");
        }

        int p = _position;
        int length = RecordReading.ReadVarint(span, ref p, span.Length);
        if (length < MinRecordBodySize || length > span.Length - p)
        {
            throw Malformed($"record {_index} has an impossible length {length} ({span.Length - p} bytes remain)");
        }
        int end = p + length;
        byte attributes = span[p++];
        long timestampDelta = RecordReading.ReadVarlong(span, ref p, end);
        int offsetDelta = RecordReading.ReadVarint(span, ref p, end);

        int keyLength = RecordReading.ReadVarint(span, ref p, end);
        int keyStart = p;
        p = Skip(span, p, end, keyLength, "key");

        int valueLength = RecordReading.ReadVarint(span, ref p, end);
        int valueStart = p;
        p = Skip(span, p, end, valueLength, "value");

        int headerCount = RecordReading.ReadVarint(span, ref p, end);
        if (headerCount < 0 || headerCount > (end - p) / 2)
        {
            throw Malformed($"record {_index} has an impossible header count {headerCount}");
        }
        int headersStart = p;
        for (int h = 0; h < headerCount; h++)
        {
            int headerKeyLength = RecordReading.ReadVarint(span, ref p, end);
            if (headerKeyLength < 0)
            {
                throw Malformed($"record {_index} has a header with a null or negative key length {headerKeyLength}");
            }
            p = Skip(span, p, end, headerKeyLength, "header key");
            int headerValueLength = RecordReading.ReadVarint(span, ref p, end);
            p = Skip(span, p, end, headerValueLength, "header value");
        }
        if (p != end)
        {
            throw Malformed($"record {_index} declares {length} bytes but its fields take {p - (end - length)}");
        }

        long timestamp = _useLogAppendTime ? _logAppendTime : _baseTimestamp + timestampDelta;
        Current = new RecordView(
            _memory, _baseOffset + offsetDelta, timestamp, attributes,
            keyStart, keyLength, valueStart, valueLength, headersStart, headerCount);
        _position = end;
        _index++;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly int Skip(ReadOnlySpan<byte> span, int p, int end, int length, string field)
    {
        if (length < -1 || length > end - p)
        {
            ThrowBadLength(field, length, end - p);
        }
        return length > 0 ? p + length : p;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private readonly void ThrowBadLength(string field, int length, int remaining) =>
        throw Malformed($"record {_index} has a {field} length of {length} with {remaining} bytes left in the record");

    private readonly KafkaProtocolException Malformed(string detail) =>
        new($"Malformed record batch at base offset {_baseOffset}: {detail}.");
}

/// <summary>Bounds-checked varint reads for record parsing.</summary>
internal static class RecordReading
{
    /// <summary>Reads a zig-zag varint at <paramref name="position"/>, not past <paramref name="end"/>.</summary>
    /// <exception cref="KafkaProtocolException">The varint is truncated or longer than 5 bytes.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ReadVarint(ReadOnlySpan<byte> span, ref int position, int end)
    {
        int p = position;
        if ((uint)p < (uint)end && (uint)end <= (uint)span.Length)
        {
            byte b = span[p];
            if (b < 0x80)
            {
                position = p + 1;
                return Varint.UnZigZag((uint)b);
            }
        }
        return ReadVarintSlow(span, ref position, end);
    }

    private static int ReadVarintSlow(ReadOnlySpan<byte> span, ref int position, int end)
    {
        if (position >= end)
        {
            throw new KafkaProtocolException("Malformed record: a varint is missing at the end of the record.");
        }
        int n = Varint.TryReadUnsigned(span[position..end], out uint raw);
        if (n <= 0)
        {
            throw new KafkaProtocolException(n == 0 ? "Malformed record: a varint is truncated." : "Malformed record: a varint is longer than 5 bytes.");
        }
        position += n;
        return Varint.UnZigZag(raw);
    }

    /// <summary>Reads a zig-zag varlong at <paramref name="position"/>, not past <paramref name="end"/>.</summary>
    /// <exception cref="KafkaProtocolException">The varlong is truncated or longer than 10 bytes.</exception>
    public static long ReadVarlong(ReadOnlySpan<byte> span, ref int position, int end)
    {
        int p = position;
        if ((uint)p < (uint)end && (uint)end <= (uint)span.Length)
        {
            byte b = span[p];
            if (b < 0x80)
            {
                position = p + 1;
                return Varint.UnZigZag((ulong)b);
            }
        }
        if (position >= end)
        {
            throw new KafkaProtocolException("Malformed record: a varlong is missing at the end of the record.");
        }
        int n = Varint.TryReadUnsigned(span[position..end], out ulong raw);
        if (n <= 0)
        {
            throw new KafkaProtocolException(n == 0 ? "Malformed record: a varlong is truncated." : "Malformed record: a varlong is longer than 10 bytes.");
        }
        position += n;
        return Varint.UnZigZag(raw);
    }
}
