using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using KafkaClient.Protocol.Compression;
using L = KafkaClient.Protocol.Records.RecordBatchLayout;

namespace KafkaClient.Protocol.Records;

/// <summary>
/// Builds one record batch v2 (magic 2) in pooled memory: configure the header properties,
/// <see cref="Append"/> records, then <see cref="Finish"/> to compress the records (when a codec is
/// set), fill the header and compute the CRC. <see cref="Reset"/> makes the writer ready for the
/// next batch, keeping its buffers, so a producer keeps one writer per partition and appending
/// allocates nothing in steady state. Not thread-safe.
/// </summary>
/// <remarks>
/// Records are written straight into the batch buffer behind a reserved header. The first record's
/// timestamp becomes the batch's base timestamp and each record stores its delta from it; offset
/// deltas count from 0. The header is written by <see cref="Finish"/>, which may be called again
/// after changing header properties (for example a new producer epoch and base sequence before a
/// retry): it then rewrites the header and CRC in place without recompressing.
/// </remarks>
public sealed class RecordBatchWriter : IDisposable
{
    /// <summary>Size of a batch with no records: the header.</summary>
    public const int BatchHeaderSize = L.HeaderSize;

    private readonly PooledBufferWriter _records;
    private readonly PooledBufferWriter _compressed = new();
    private PooledBufferWriter? _finished;
    private int _recordCount;
    private long _baseTimestamp;
    private long _maxTimestamp;
    private CompressionType _compression;
    private int? _compressionLevel;

    /// <summary>Creates a writer; <paramref name="initialCapacity"/> bytes are rented up front.</summary>
    public RecordBatchWriter(int initialCapacity = 16 * 1024)
    {
        _records = new PooledBufferWriter(Math.Max(initialCapacity, BatchHeaderSize));
        Reset();
    }

    /// <summary>Offset of the first record. Producers send 0; the broker assigns real offsets.</summary>
    public long BaseOffset { get; set; }

    /// <summary>Leader epoch stamped by the broker; producers send -1.</summary>
    public int PartitionLeaderEpoch { get; set; }

    /// <summary>Idempotent/transactional producer id, or -1.</summary>
    public long ProducerId { get; set; }

    /// <summary>Producer epoch, or -1.</summary>
    public short ProducerEpoch { get; set; }

    /// <summary>Sequence number of the first record for idempotence, or -1.</summary>
    public int BaseSequence { get; set; }

    /// <summary>Whether the batch is part of a transaction (attribute bit 4).</summary>
    public bool IsTransactional { get; set; }

    /// <summary>Whether the batch holds control records (attribute bit 5); see <see cref="AppendEndTransactionMarker"/>.</summary>
    public bool IsControl { get; set; }

    /// <summary>The timestamp type (attribute bit 3). Producers use <see cref="TimestampType.CreateTime"/>.</summary>
    public TimestampType TimestampType { get; set; }

    /// <summary>The codec for the records section. Cannot change between <see cref="Finish"/> and <see cref="Reset"/>.</summary>
    public CompressionType Compression
    {
        get => _compression;
        set
        {
            ThrowIfFinished();
            if (!CompressionCodecs.IsKnown(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown compression type.");
            }
            _compression = value;
        }
    }

    /// <summary>The codec-specific level, or null for the codec's default. Checked by <see cref="Finish"/>.</summary>
    public int? CompressionLevel
    {
        get => _compressionLevel;
        set
        {
            ThrowIfFinished();
            _compressionLevel = value;
        }
    }

    /// <summary>Records appended so far.</summary>
    public int RecordCount => _recordCount;

    /// <summary>Size the batch would have uncompressed: the header plus the records appended so far.</summary>
    public int UncompressedSizeInBytes => _records.WrittenCount;

    /// <summary>True between <see cref="Finish"/> and <see cref="Reset"/>; no more records can be appended.</summary>
    public bool IsFinished => _finished is not null;

    /// <summary>
    /// Bytes that <see cref="Append"/> would add for this record right now (its length prefix
    /// included), so a producer can check whether it still fits a size limit before appending.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int MeasureRecord(long timestampMs, NullableBytes key, NullableBytes value, ReadOnlySpan<RecordHeader> headers = default)
    {
        long timestampDelta = _recordCount == 0 ? 0 : timestampMs - _baseTimestamp;
        int bodySize = MeasureBody(timestampDelta, _recordCount, key.WireLength, value.WireLength, headers);
        return Varint.SizeOf(bodySize) + bodySize;
    }

    /// <summary>Appends a record.</summary>
    /// <param name="timestampMs">Record timestamp in milliseconds since the Unix epoch.</param>
    /// <param name="key">The key, or null.</param>
    /// <param name="value">The value, or null (a tombstone).</param>
    /// <param name="headers">The headers, possibly none.</param>
    /// <exception cref="InvalidOperationException">The batch is finished, or would pass 2 GiB.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Append(long timestampMs, NullableBytes key, NullableBytes value, ReadOnlySpan<RecordHeader> headers = default)
    {
        ThrowIfFinished();
        if (_recordCount == 0)
        {
            _baseTimestamp = timestampMs;
            _maxTimestamp = timestampMs;
        }
        else if (timestampMs > _maxTimestamp)
        {
            _maxTimestamp = timestampMs;
        }

        long timestampDelta = timestampMs - _baseTimestamp;
        int offsetDelta = _recordCount;
        int keyLength = key.WireLength;
        int valueLength = value.WireLength;
        int bodySize = MeasureBody(timestampDelta, offsetDelta, keyLength, valueLength, headers);
        int total = Varint.SizeOf(bodySize) + bodySize;
        if (total > int.MaxValue - _records.WrittenCount)
        {
            throw new InvalidOperationException("A record batch cannot exceed 2 GiB.");
        }

        Span<byte> span = _records.GetSpan(total);
        int p = PutVarint(span, 0, bodySize);
        span[p++] = 0; // record attributes: unused
        p = PutVarlong(span, p, timestampDelta);
        p = PutVarint(span, p, offsetDelta);
        p = PutBytes(span, p, key.Span, keyLength);
        p = PutBytes(span, p, value.Span, valueLength);
        p = PutVarint(span, p, headers.Length);
        foreach (ref readonly RecordHeader header in headers)
        {
            p = PutHeaderKey(span, p, header.Key);
            p = PutBytes(span, p, header.Value.Span, header.IsValueNull ? -1 : header.Value.Length);
        }
        Debug.Assert(p == total, "record size arithmetic and encoding disagree");
        _records.Advance(total);
        _recordCount++;
    }

    /// <summary>
    /// Appends a transaction marker, the control record a transaction coordinator writes to end a
    /// transaction: key = version 0 and the type, value = version 0 and the coordinator epoch. Marks
    /// the batch as control and transactional. A marker batch holds this one record only.
    /// </summary>
    /// <param name="type"><see cref="ControlRecordType.Commit"/> or <see cref="ControlRecordType.Abort"/>.</param>
    /// <param name="coordinatorEpoch">Epoch of the coordinator writing the marker.</param>
    /// <param name="timestampMs">Marker timestamp in milliseconds since the Unix epoch.</param>
    public void AppendEndTransactionMarker(ControlRecordType type, int coordinatorEpoch, long timestampMs)
    {
        if (type is not (ControlRecordType.Commit or ControlRecordType.Abort))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "A transaction marker is a commit or an abort.");
        }
        if (_recordCount > 0)
        {
            throw new InvalidOperationException("A transaction marker must be the only record of its batch.");
        }
        Span<byte> key = stackalloc byte[ControlRecord.KeySize];
        ControlRecord.WriteKey(key, type);
        Span<byte> value = stackalloc byte[ControlRecord.EndTransactionMarkerValueSize];
        ControlRecord.WriteEndTransactionMarkerValue(value, coordinatorEpoch);
        IsControl = true;
        IsTransactional = true;
        Append(timestampMs, key, value);
    }

    /// <summary>
    /// Completes the batch: compresses the records if a codec is set, writes the header and the CRC,
    /// and returns the batch bytes. They stay valid until <see cref="Reset"/> or <see cref="Dispose"/>.
    /// Calling it again rewrites the header from the current properties (no recompression).
    /// </summary>
    /// <exception cref="InvalidOperationException">No record was appended.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ReadOnlyMemory<byte> Finish()
    {
        if (_recordCount == 0)
        {
            throw new InvalidOperationException("A record batch needs at least one record.");
        }
        if (_finished is null)
        {
            if (_compression == CompressionType.None)
            {
                CompressionCodecs.Get(CompressionType.None).CheckLevel(_compressionLevel);
                _finished = _records;
            }
            else
            {
                _compressed.Reset();
                _compressed.GetSpan(L.HeaderSize);
                _compressed.Advance(L.HeaderSize);
                ReadOnlySpan<byte> records = _records.WrittenSpan[L.HeaderSize..];
                CompressionCodecs.Get(_compression).Compress(records, _compressed, _compressionLevel);
                _finished = _compressed;
            }
        }

        Span<byte> batch = _finished.WrittenSpan;
        WriteHeader(batch);
        BinaryPrimitives.WriteUInt32BigEndian(batch[L.CrcOffset..], Crc32C.Compute(batch[L.AttributesOffset..]));
        return _finished.WrittenMemory;
    }

    /// <summary>
    /// Empties the writer for a new batch and restores every property to its default (as a new
    /// writer has), keeping the pooled buffers. Invalidates memory returned by <see cref="Finish"/>.
    /// </summary>
    public void Reset()
    {
        _records.Reset();
        _records.GetSpan(L.HeaderSize);
        _records.Advance(L.HeaderSize);
        _compressed.Reset();
        _finished = null;
        _recordCount = 0;
        _baseTimestamp = 0;
        _maxTimestamp = 0;
        BaseOffset = 0;
        PartitionLeaderEpoch = -1;
        ProducerId = L.NoProducerValue;
        ProducerEpoch = L.NoProducerValue;
        BaseSequence = L.NoProducerValue;
        IsTransactional = false;
        IsControl = false;
        TimestampType = TimestampType.CreateTime;
        _compression = CompressionType.None;
        _compressionLevel = null;
    }

    /// <summary>Returns the pooled buffers. Memory returned by <see cref="Finish"/> becomes invalid.</summary>
    public void Dispose()
    {
        _finished = null;
        _records.Dispose();
        _compressed.Dispose();
    }

    private void WriteHeader(Span<byte> batch)
    {
        short attributes = (short)_compression;
        if (TimestampType == TimestampType.LogAppendTime)
        {
            attributes |= L.TimestampTypeFlag;
        }
        if (IsTransactional)
        {
            attributes |= L.TransactionalFlag;
        }
        if (IsControl)
        {
            attributes |= L.ControlFlag;
        }
        BinaryPrimitives.WriteInt64BigEndian(batch[L.BaseOffsetOffset..], BaseOffset);
        BinaryPrimitives.WriteInt32BigEndian(batch[L.BatchLengthOffset..], batch.Length - L.LogOverhead);
        BinaryPrimitives.WriteInt32BigEndian(batch[L.PartitionLeaderEpochOffset..], PartitionLeaderEpoch);
        batch[L.MagicOffset] = L.CurrentMagic;
        BinaryPrimitives.WriteInt16BigEndian(batch[L.AttributesOffset..], attributes);
        BinaryPrimitives.WriteInt32BigEndian(batch[L.LastOffsetDeltaOffset..], _recordCount - 1);
        BinaryPrimitives.WriteInt64BigEndian(batch[L.BaseTimestampOffset..], _baseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(batch[L.MaxTimestampOffset..], _maxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(batch[L.ProducerIdOffset..], ProducerId);
        BinaryPrimitives.WriteInt16BigEndian(batch[L.ProducerEpochOffset..], ProducerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(batch[L.BaseSequenceOffset..], BaseSequence);
        BinaryPrimitives.WriteInt32BigEndian(batch[L.RecordCountOffset..], _recordCount);
    }

    /// <summary>Size of a record after its length prefix; fails past 2 GiB.</summary>
    private static int MeasureBody(long timestampDelta, int offsetDelta, int keyLength, int valueLength, ReadOnlySpan<RecordHeader> headers)
    {
        long size = 1
            + Varint.SizeOf(timestampDelta)
            + Varint.SizeOf(offsetDelta)
            + Varint.SizeOf(keyLength) + Math.Max(keyLength, 0)
            + Varint.SizeOf(valueLength) + Math.Max(valueLength, 0)
            + Varint.SizeOf(headers.Length);
        foreach (ref readonly RecordHeader header in headers)
        {
            int keyBytes = Encoding.UTF8.GetByteCount(header.Key);
            int headerValueLength = header.IsValueNull ? -1 : header.Value.Length;
            size += Varint.SizeOf(keyBytes) + keyBytes + Varint.SizeOf(headerValueLength) + Math.Max(headerValueLength, 0);
        }
        if (size > int.MaxValue - Varint.MaxLength32)
        {
            throw new InvalidOperationException("A record cannot exceed 2 GiB.");
        }
        return (int)size;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PutVarint(Span<byte> destination, int position, int value)
    {
        uint zigZag = Varint.ZigZag(value);
        if (zigZag < 0x80)
        {
            destination[position] = (byte)zigZag;
            return position + 1;
        }
        return position + Varint.WriteUnsigned(destination[position..], zigZag);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PutVarlong(Span<byte> destination, int position, long value)
    {
        ulong zigZag = Varint.ZigZag(value);
        if (zigZag < 0x80)
        {
            destination[position] = (byte)zigZag;
            return position + 1;
        }
        return position + Varint.WriteUnsigned(destination[position..], zigZag);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PutBytes(Span<byte> destination, int position, ReadOnlySpan<byte> bytes, int wireLength)
    {
        position = PutVarint(destination, position, wireLength);
        if (wireLength > 0)
        {
            bytes.CopyTo(destination[position..]);
            position += wireLength;
        }
        return position;
    }

    /// <summary>
    /// Writes a header key as length + UTF-8. A key of at most 21 chars encodes to at most 63 bytes,
    /// whose length takes one varint byte, so it is encoded in a single pass straight after that byte.
    /// </summary>
    private static int PutHeaderKey(Span<byte> destination, int position, string key)
    {
        if (key.Length <= 21)
        {
            int written = Encoding.UTF8.GetBytes(key, destination[(position + 1)..]);
            destination[position] = (byte)Varint.ZigZag(written);
            return position + 1 + written;
        }
        position = PutVarint(destination, position, Encoding.UTF8.GetByteCount(key));
        return position + Encoding.UTF8.GetBytes(key, destination[position..]);
    }

    private void ThrowIfFinished()
    {
        if (_finished is not null)
        {
            throw new InvalidOperationException("The batch is finished; call Reset to start a new one.");
        }
    }
}
