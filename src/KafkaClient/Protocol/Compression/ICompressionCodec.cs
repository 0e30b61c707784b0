using System.Runtime.CompilerServices;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Protocol.Compression;

/// <summary>
/// One of Kafka's record compression codecs. A codec compresses the whole records section of a
/// batch as one block and decompresses it again. Implementations are stateless and thread-safe.
/// </summary>
internal interface ICompressionCodec
{
    /// <summary>The codec's id in the batch attributes.</summary>
    CompressionType Type { get; }

    /// <summary>Throws when <paramref name="level"/> is not one of this codec's levels (null, the default, always is).</summary>
    /// <param name="level">The codec-specific level, or null for the codec's default.</param>
    /// <param name="parameterName">The name the exception gives the level (the caller's expression).</param>
    /// <exception cref="ArgumentOutOfRangeException">The level is outside the codec's range.</exception>
    void CheckLevel(int? level, [CallerArgumentExpression(nameof(level))] string? parameterName = null);

    /// <summary>
    /// Appends the compressed form of <paramref name="source"/> to <paramref name="destination"/>.
    /// </summary>
    /// <param name="source">The uncompressed bytes.</param>
    /// <param name="destination">Receives the compressed bytes after what it already holds.</param>
    /// <param name="level">The codec-specific level, or null for the codec's default.</param>
    /// <exception cref="ArgumentOutOfRangeException">The level is outside the codec's range.</exception>
    void Compress(ReadOnlySpan<byte> source, PooledBufferWriter destination, int? level);

    /// <summary>
    /// Appends the decompressed form of <paramref name="source"/> to <paramref name="destination"/>.
    /// </summary>
    /// <param name="source">The compressed bytes.</param>
    /// <param name="destination">Receives the decompressed bytes after what it already holds.</param>
    /// <param name="maxDecompressedBytes">The most bytes decompression may produce.</param>
    /// <exception cref="Errors.CorruptRecordException">
    /// The data is malformed (<see cref="Errors.CorruptRecordReason.InvalidCompressedData"/>) or
    /// would decompress to more than <paramref name="maxDecompressedBytes"/>
    /// (<see cref="Errors.CorruptRecordReason.DecompressedSizeLimitExceeded"/>).
    /// </exception>
    void Decompress(ReadOnlyMemory<byte> source, PooledBufferWriter destination, int maxDecompressedBytes);
}
