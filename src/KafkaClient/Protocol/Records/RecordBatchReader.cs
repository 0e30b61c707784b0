using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using KafkaClient.Errors;
using KafkaClient.Protocol.Compression;
using L = KafkaClient.Protocol.Records.RecordBatchLayout;

namespace KafkaClient.Protocol.Records;

/// <summary>
/// Reads a record set — zero or more concatenated record batches, as in a Fetch response's
/// <c>records</c> field — lazily: <see cref="TryReadBatch"/> steps from batch to batch looking only
/// at headers, and <see cref="ReadRecords"/> decodes one batch's records on demand, decompressing
/// into a pooled buffer the reader keeps for reuse. Keep one reader per consumer fetch loop and
/// <see cref="Reset(ReadOnlyMemory{byte})"/> it for each record set. Not thread-safe.
/// </summary>
/// <remarks>
/// A broker may cut the last batch of a record set short (the fetch size limit falls inside it);
/// that partial batch is not an error: <see cref="TryReadBatch"/> returns false and
/// <see cref="TruncatedBytes"/> tells how many bytes were left over. Lengths that cannot be right
/// raise <see cref="KafkaProtocolException"/>; a CRC mismatch or a bad compressed block raises
/// <see cref="CorruptRecordException"/>. Only message format v2 (magic 2, Kafka 0.11+) is
/// supported; older message sets are reported as such.
/// </remarks>
public sealed class RecordBatchReader : IDisposable
{
    /// <summary>Default for <see cref="MaxDecompressedBytes"/>: 128 MiB.</summary>
    public const int DefaultMaxDecompressedBytes = 128 * 1024 * 1024;

    /// <summary>Buffers above this size are returned to the pool on reset instead of being kept.</summary>
    private const int RetainedBufferLimit = 8 * 1024 * 1024;

    private readonly PooledBufferWriter _decompressed = new();
    private readonly PooledBufferWriter _contiguous = new();
    private ReadOnlyMemory<byte> _remaining;
    private int _consumed;
    private int _maxDecompressedBytes = DefaultMaxDecompressedBytes;

    /// <summary>Whether <see cref="TryReadBatch"/> verifies each batch's CRC-32C (default true).</summary>
    public bool ValidateCrc { get; set; } = true;

    /// <summary>
    /// The most bytes one batch's records may decompress to (default 128 MiB), a guard against
    /// decompression bombs. Passing it raises <see cref="CorruptRecordException"/> with
    /// <see cref="CorruptRecordReason.DecompressedSizeLimitExceeded"/>.
    /// </summary>
    public int MaxDecompressedBytes
    {
        get => _maxDecompressedBytes;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _maxDecompressedBytes = value;
        }
    }

    /// <summary>
    /// After <see cref="TryReadBatch"/> returned false: the bytes of an incomplete batch at the
    /// end of the record set that were ignored (0 when the set ended on a batch boundary).
    /// </summary>
    public int TruncatedBytes { get; private set; }

    /// <summary>Starts reading <paramref name="recordSet"/>. The memory must stay unchanged while it is read.</summary>
    public void Reset(ReadOnlyMemory<byte> recordSet)
    {
        TrimBuffers();
        Start(recordSet);
    }

    /// <summary>
    /// Starts reading <paramref name="recordSet"/>. A multi-segment sequence is first copied into
    /// one pooled buffer (batches may straddle segments); a single segment is read in place.
    /// </summary>
    public void Reset(in ReadOnlySequence<byte> recordSet)
    {
        TrimBuffers();
        if (recordSet.IsSingleSegment)
        {
            Start(recordSet.First);
            return;
        }
        if (recordSet.Length > Array.MaxLength)
        {
            throw new ArgumentException("The record set is larger than a single buffer can hold.", nameof(recordSet));
        }
        _contiguous.Reset();
        int length = (int)recordSet.Length;
        recordSet.CopyTo(_contiguous.GetSpan(length));
        _contiguous.Advance(length);
        Start(_contiguous.WrittenMemory);
    }

    /// <summary>
    /// Moves to the next batch. Returns false when no complete batch remains (see
    /// <see cref="TruncatedBytes"/>). Checks the batch's framing and, when
    /// <see cref="ValidateCrc"/> is set, its CRC.
    /// </summary>
    /// <exception cref="KafkaProtocolException">
    /// The batch length is impossible, the batch uses a message format other than v2, or its record
    /// count is negative.
    /// </exception>
    /// <exception cref="CorruptRecordException">The CRC does not match (the reader moves past the batch first).</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadBatch(out RecordBatchView batch)
    {
        batch = default;
        ReadOnlySpan<byte> span = _remaining.Span;
        if (span.Length < L.LogOverhead)
        {
            TruncatedBytes = span.Length;
            return false;
        }

        long baseOffset = BinaryPrimitives.ReadInt64BigEndian(span);
        int batchLength = BinaryPrimitives.ReadInt32BigEndian(span[L.BatchLengthOffset..]);
        if (batchLength < L.MinLegacyMessageSize)
        {
            throw new KafkaProtocolException(
                $"Record batch at base offset {baseOffset} (byte {_consumed} of the record set) has an impossible length {batchLength}.");
        }
        if (span.Length > L.MagicOffset)
        {
            byte magic = span[L.MagicOffset];
            if (magic != L.CurrentMagic)
            {
                throw new KafkaProtocolException(magic < L.CurrentMagic
                    ? $"Record batch at base offset {baseOffset} uses the legacy message format v{magic} (magic {magic}); "
                        + "this client reads only record batch v2, written by Kafka 0.11+ producers. "
                        + "The topic holds data in the old format (message.format.version < 0.11)."
                    : $"Record batch at base offset {baseOffset} has unknown magic {magic}; this client reads only magic 2.");
            }
            if (batchLength < L.MinBatchLength)
            {
                throw new KafkaProtocolException(
                    $"Record batch at base offset {baseOffset} has length {batchLength}, shorter than a v2 batch header.");
            }
        }
        if (batchLength > span.Length - L.LogOverhead)
        {
            TruncatedBytes = span.Length;
            return false;
        }

        int size = L.LogOverhead + batchLength;
        var view = new RecordBatchView(_remaining[..size]);
        _remaining = _remaining[size..];
        _consumed += size;

        if (ValidateCrc)
        {
            uint computed = view.ComputeCrc();
            if (computed != view.Crc)
            {
                throw new CorruptRecordException(
                    CorruptRecordReason.ChecksumMismatch,
                    $"Record batch at base offset {baseOffset} failed its CRC check: stored 0x{view.Crc:X8}, computed 0x{computed:X8}.");
            }
        }
        int recordCount = view.RecordCount;
        if (recordCount < 0)
        {
            throw new KafkaProtocolException($"Record batch at base offset {baseOffset} has a negative record count {recordCount}.");
        }
        batch = view;
        return true;
    }

    /// <summary>
    /// Returns the records of <paramref name="batch"/>, decompressing them first when the batch is
    /// compressed. Records of a compressed batch live in the reader's buffer and are valid only until
    /// the next call to this method, <see cref="Reset(ReadOnlyMemory{byte})"/> or <see cref="Dispose"/>;
    /// records of an uncompressed batch are slices of the record set itself.
    /// </summary>
    /// <exception cref="KafkaProtocolException">The batch names an unknown codec.</exception>
    /// <exception cref="CorruptRecordException">Decompression failed or passed <see cref="MaxDecompressedBytes"/>.</exception>
    public RecordEnumerator ReadRecords(in RecordBatchView batch) => ReadRecordsInto(batch, _decompressed);

    /// <summary>
    /// Like <see cref="ReadRecords(in RecordBatchView)"/>, but a compressed batch is decompressed into
    /// <paramref name="decompressInto"/> (reset first), so its records stay valid as long as the caller
    /// keeps that buffer (the consumer holds one per fetched chunk until the application is done with it).
    /// </summary>
    internal RecordEnumerator ReadRecordsInto(in RecordBatchView batch, PooledBufferWriter decompressInto)
    {
        int recordCount = batch.RecordCount;
        long? logAppendTime = batch.TimestampType == TimestampType.LogAppendTime ? batch.MaxTimestamp : null;
        ReadOnlyMemory<byte> records = batch.RecordsMemory;
        CompressionType compression = batch.Compression;
        if (compression != CompressionType.None && recordCount > 0)
        {
            if (!CompressionCodecs.IsKnown(compression))
            {
                throw new KafkaProtocolException(
                    $"Record batch at base offset {batch.BaseOffset} uses unknown compression codec id {(int)compression}.");
            }
            decompressInto.Reset();
            try
            {
                CompressionCodecs.Get(compression).Decompress(records, decompressInto, _maxDecompressedBytes);
            }
            catch (CorruptRecordException ex)
            {
                // Re-raise naming the batch; the codec's own exception (inner) keeps the detail.
                string what = ex.Reason == CorruptRecordReason.DecompressedSizeLimitExceeded
                    ? $"decompress to more than the allowed {_maxDecompressedBytes} bytes (MaxDecompressedBytes)"
                    : "cannot be decompressed; see the inner exception";
                throw new CorruptRecordException(
                    ex.Reason, $"Record batch at base offset {batch.BaseOffset}: its {compression} compressed records {what}.", ex);
            }
            records = decompressInto.WrittenMemory;
        }
        return new RecordEnumerator(records, recordCount, batch.BaseOffset, batch.BaseTimestamp, logAppendTime);
    }

    /// <summary>Returns the pooled buffers. Records read from compressed batches become invalid.</summary>
    public void Dispose()
    {
        _remaining = default;
        _decompressed.Dispose();
        _contiguous.Dispose();
    }

    private void Start(ReadOnlyMemory<byte> recordSet)
    {
        _remaining = recordSet;
        _consumed = 0;
        TruncatedBytes = 0;
    }

    private void TrimBuffers()
    {
        if (_decompressed.Capacity > RetainedBufferLimit)
        {
            _decompressed.Release();
        }
        if (_contiguous.Capacity > RetainedBufferLimit)
        {
            _contiguous.Release();
        }
    }
}
