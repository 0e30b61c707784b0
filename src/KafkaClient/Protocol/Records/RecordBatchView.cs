using System.Buffers.Binary;
using L = KafkaClient.Protocol.Records.RecordBatchLayout;

namespace KafkaClient.Protocol.Records;

/// <summary>
/// One record batch v2 as found in a record set, read in place: the header fields are decoded on
/// access and the records are not touched (read them with <see cref="RecordBatchReader.ReadRecords"/>).
/// Produced by <see cref="RecordBatchReader.TryReadBatch"/>, which has checked that the bytes form
/// a complete v2 batch (and its CRC when enabled).
/// </summary>
public readonly struct RecordBatchView
{
    internal RecordBatchView(ReadOnlyMemory<byte> memory) => Memory = memory;

    /// <summary>The whole batch, header included, exactly as received (e.g. to forward it unchanged).</summary>
    public ReadOnlyMemory<byte> Memory { get; }

    /// <summary>Total size of the batch in bytes.</summary>
    public int SizeInBytes => Memory.Length;

    /// <summary>Offset of the first record.</summary>
    public long BaseOffset => BinaryPrimitives.ReadInt64BigEndian(Span[L.BaseOffsetOffset..]);

    /// <summary>Bytes after the batchLength field.</summary>
    public int BatchLength => BinaryPrimitives.ReadInt32BigEndian(Span[L.BatchLengthOffset..]);

    /// <summary>The leader epoch the broker stamped, or -1.</summary>
    public int PartitionLeaderEpoch => BinaryPrimitives.ReadInt32BigEndian(Span[L.PartitionLeaderEpochOffset..]);

    /// <summary>The format version; always 2 for a batch the reader returned.</summary>
    public byte Magic => Span[L.MagicOffset];

    /// <summary>The stored CRC-32C of attributes through the end.</summary>
    public uint Crc => BinaryPrimitives.ReadUInt32BigEndian(Span[L.CrcOffset..]);

    /// <summary>The raw attributes field.</summary>
    public short Attributes => BinaryPrimitives.ReadInt16BigEndian(Span[L.AttributesOffset..]);

    /// <summary>The codec of the records section (may be an undefined value in a malformed batch).</summary>
    public CompressionType Compression => (CompressionType)(Attributes & L.CompressionMask);

    /// <summary>Whether record timestamps are create time or log-append time.</summary>
    public TimestampType TimestampType =>
        (Attributes & L.TimestampTypeFlag) != 0 ? TimestampType.LogAppendTime : TimestampType.CreateTime;

    /// <summary>Whether the batch belongs to a transaction.</summary>
    public bool IsTransactional => (Attributes & L.TransactionalFlag) != 0;

    /// <summary>Whether the batch holds control records (see <see cref="ControlRecord"/>).</summary>
    public bool IsControl => (Attributes & L.ControlFlag) != 0;

    /// <summary>Offset of the last record relative to <see cref="BaseOffset"/>.</summary>
    public int LastOffsetDelta => BinaryPrimitives.ReadInt32BigEndian(Span[L.LastOffsetDeltaOffset..]);

    /// <summary>Offset of the last record (records removed by compaction keep their place).</summary>
    public long LastOffset => BaseOffset + LastOffsetDelta;

    /// <summary>The offset a consumer continues from after this batch.</summary>
    public long NextOffset => LastOffset + 1;

    /// <summary>Timestamp of the first record; record timestamps are deltas from it.</summary>
    public long BaseTimestamp => BinaryPrimitives.ReadInt64BigEndian(Span[L.BaseTimestampOffset..]);

    /// <summary>The largest record timestamp (the append time under <see cref="TimestampType.LogAppendTime"/>).</summary>
    public long MaxTimestamp => BinaryPrimitives.ReadInt64BigEndian(Span[L.MaxTimestampOffset..]);

    /// <summary>The producer id, or -1.</summary>
    public long ProducerId => BinaryPrimitives.ReadInt64BigEndian(Span[L.ProducerIdOffset..]);

    /// <summary>The producer epoch, or -1.</summary>
    public short ProducerEpoch => BinaryPrimitives.ReadInt16BigEndian(Span[L.ProducerEpochOffset..]);

    /// <summary>Sequence number of the first record, or -1.</summary>
    public int BaseSequence => BinaryPrimitives.ReadInt32BigEndian(Span[L.BaseSequenceOffset..]);

    /// <summary>Number of records in the batch.</summary>
    public int RecordCount => BinaryPrimitives.ReadInt32BigEndian(Span[L.RecordCountOffset..]);

    /// <summary>The records section as stored (compressed when <see cref="Compression"/> is set).</summary>
    public ReadOnlyMemory<byte> RecordsMemory => Memory[L.HeaderSize..];

    private ReadOnlySpan<byte> Span => Memory.Span;

    /// <summary>Computes the CRC-32C of the batch's attributes through its end.</summary>
    public uint ComputeCrc() => Crc32C.Compute(Span[L.AttributesOffset..]);

    /// <summary>True when the stored CRC matches the bytes.</summary>
    public bool IsCrcValid() => ComputeCrc() == Crc;
}
