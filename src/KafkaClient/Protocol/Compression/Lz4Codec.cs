using System.Runtime.CompilerServices;
using K4os.Compression.LZ4;
using K4os.Compression.LZ4.Streams;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Protocol.Compression;

/// <summary>
/// Kafka's lz4 codec: the records as one LZ4 frame (frame format v1) with independent 64 KiB blocks
/// and no checksums, which is what Kafka's own reader accepts (it decodes each block on its own).
/// Levels 0–2 use the fast compressor, 3–12 the high-compression one; the default is fast.
/// </summary>
internal sealed class Lz4Codec : ICompressionCodec
{
    /// <summary>The shared instance.</summary>
    public static readonly Lz4Codec Instance = new();

    private Lz4Codec()
    {
    }

    /// <inheritdoc/>
    public CompressionType Type => CompressionType.Lz4;

    /// <inheritdoc/>
    public void CheckLevel(int? level, [CallerArgumentExpression(nameof(level))] string? parameterName = null)
    {
        if (level is < 0 or > 12)
        {
            throw new ArgumentOutOfRangeException(parameterName, level, "LZ4 levels are 0 to 12.");
        }
    }

    /// <inheritdoc/>
    public void Compress(ReadOnlySpan<byte> source, PooledBufferWriter destination, int? level)
    {
        CheckLevel(level);
        int value = level ?? 0;
        var settings = new LZ4EncoderSettings
        {
            BlockSize = 64 * 1024,
            ChainBlocks = false,
            ContentChecksum = false,
            BlockChecksum = false,
            CompressionLevel = value < 3 ? LZ4Level.L00_FAST : (LZ4Level)value,
        };
        LZ4Frame.Encode(source, destination, settings);
    }

    /// <inheritdoc/>
    public void Decompress(ReadOnlyMemory<byte> source, PooledBufferWriter destination, int maxDecompressedBytes)
    {
        var bounded = new BoundedBufferWriter(destination, maxDecompressedBytes, Type);
        try
        {
            LZ4Frame.Decode(source.Span, bounded);
        }
        catch (Exception ex) when (CompressionCodecs.IsDecoderFailure(ex))
        {
            throw CompressionCodecs.Invalid(Type, ex.Message, ex);
        }
    }
}
