namespace KafkaClient;

/// <summary>
/// The codec that compresses the records of a record batch, as numbered in the batch's attributes
/// (bits 0–2). A producer compresses each batch as a whole; consumers decompress transparently.
/// </summary>
public enum CompressionType
{
    /// <summary>Records are stored uncompressed.</summary>
    None = 0,

    /// <summary>GZIP (DEFLATE with the RFC 1952 wrapper); levels 0–9, default 6.</summary>
    Gzip = 1,

    /// <summary>Snappy in the xerial block framing Kafka's Java client uses; has no levels.</summary>
    Snappy = 2,

    /// <summary>The LZ4 frame format with independent 64 KiB blocks; levels 0–12 (0–2 = fast mode, 3+ = high compression).</summary>
    Lz4 = 3,

    /// <summary>Zstandard (needs Kafka 2.1+ brokers); levels 1–22, default 3.</summary>
    Zstd = 4,
}
