namespace KafkaClient.Protocol.Records;

/// <summary>
/// Byte offsets and sizes of the record batch v2 (magic 2) header, all big-endian:
/// <code>
/// baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
/// attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
/// producerId int64 | producerEpoch int16 | baseSequence int32 | recordCount int32 | records...
/// </code>
/// batchLength counts the bytes after itself; the CRC-32C covers attributes through the end.
/// </summary>
internal static class RecordBatchLayout
{
    public const int BaseOffsetOffset = 0;
    public const int BatchLengthOffset = 8;
    public const int PartitionLeaderEpochOffset = 12;
    public const int MagicOffset = 16;
    public const int CrcOffset = 17;
    public const int AttributesOffset = 21;
    public const int LastOffsetDeltaOffset = 23;
    public const int BaseTimestampOffset = 27;
    public const int MaxTimestampOffset = 35;
    public const int ProducerIdOffset = 43;
    public const int ProducerEpochOffset = 51;
    public const int BaseSequenceOffset = 53;
    public const int RecordCountOffset = 57;

    /// <summary>Size of the header; the records start here.</summary>
    public const int HeaderSize = 61;

    /// <summary>baseOffset plus batchLength: the bytes before what batchLength counts.</summary>
    public const int LogOverhead = 12;

    /// <summary>The smallest batchLength a v2 batch can have (a header and no records).</summary>
    public const int MinBatchLength = HeaderSize - LogOverhead;

    /// <summary>The smallest size field any message format could have (a v0 message with no key or value).</summary>
    public const int MinLegacyMessageSize = 14;

    /// <summary>The magic byte of record batch v2, the only format this client reads and writes.</summary>
    public const byte CurrentMagic = 2;

    /// <summary>Attribute bits 0–2: the compression codec.</summary>
    public const short CompressionMask = 0x07;

    /// <summary>Attribute bit 3: timestamps are log-append time.</summary>
    public const short TimestampTypeFlag = 0x08;

    /// <summary>Attribute bit 4: the batch belongs to a transaction.</summary>
    public const short TransactionalFlag = 0x10;

    /// <summary>Attribute bit 5: the batch holds control records (transaction markers).</summary>
    public const short ControlFlag = 0x20;

    /// <summary>Value of producerId, producerEpoch and baseSequence when no idempotent producer wrote the batch.</summary>
    public const int NoProducerValue = -1;
}
