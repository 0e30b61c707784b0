using System.Runtime.CompilerServices;
using System.Buffers;
using KafkaClient.Protocol.Records;
using ZstdSharp;

namespace KafkaClient.Protocol.Compression;

/// <summary>
/// Kafka's zstd codec: the records as Zstandard frames. Levels 1–22 (and zstd's negative fast
/// levels); the default is 3, as in Kafka. Compression and decompression contexts are cached per
/// thread because creating them costs far more than a typical batch.
/// </summary>
internal sealed class ZstdCodec : ICompressionCodec
{
    /// <summary>The shared instance.</summary>
    public static readonly ZstdCodec Instance = new();

    /// <summary>Kafka's default zstd level.</summary>
    internal const int DefaultLevel = 3;

    private const int OutputChunk = 128 * 1024;

    [ThreadStatic]
    private static Compressor? t_compressor;

    [ThreadStatic]
    private static Decompressor? t_decompressor;

    private ZstdCodec()
    {
    }

    /// <inheritdoc/>
    public CompressionType Type => CompressionType.Zstd;

    /// <inheritdoc/>
    public void CheckLevel(int? level, [CallerArgumentExpression(nameof(level))] string? parameterName = null)
    {
        if (level < Compressor.MinCompressionLevel || level > Compressor.MaxCompressionLevel)
        {
            throw new ArgumentOutOfRangeException(parameterName, level,
                $"Zstd levels are {Compressor.MinCompressionLevel} to {Compressor.MaxCompressionLevel}.");
        }
    }

    /// <inheritdoc/>
    public void Compress(ReadOnlySpan<byte> source, PooledBufferWriter destination, int? level)
    {
        CheckLevel(level);
        int value = level ?? DefaultLevel;
        Compressor compressor = t_compressor ??= new Compressor(value);
        if (compressor.Level != value)
        {
            compressor.Level = value;
        }
        Span<byte> target = destination.GetSpan(Compressor.GetCompressBound(source.Length));
        destination.Advance(compressor.Wrap(source, target));
    }

    /// <inheritdoc/>
    public void Decompress(ReadOnlyMemory<byte> source, PooledBufferWriter destination, int maxDecompressedBytes)
    {
        var bounded = new BoundedBufferWriter(destination, maxDecompressedBytes, Type);
        Decompressor decompressor = t_decompressor ??= new Decompressor();
        ReadOnlySpan<byte> input = source.Span;
        try
        {
            decompressor.ResetStream();
            while (true)
            {
                // Offer at most one byte beyond the limit so a bomb fails without growing further.
                int want = (int)Math.Min(OutputChunk, (long)bounded.Remaining + 1);
                Span<byte> output = destination.GetSpan(want)[..want];
                OperationStatus status = decompressor.UnwrapStream(input, output, out int consumed, out int written);
                input = input[consumed..];
                bounded.Advance(written);
                switch (status)
                {
                    case OperationStatus.Done when input.IsEmpty:
                        return;
                    case OperationStatus.Done:
                    case OperationStatus.DestinationTooSmall:
                        continue; // another frame follows, or more output space is needed
                    case OperationStatus.NeedMoreData:
                        throw CompressionCodecs.Invalid(Type, "the zstd frame is truncated.");
                    default:
                        throw CompressionCodecs.Invalid(Type, "the zstd frame is malformed.");
                }
            }
        }
        catch (Exception ex) when (CompressionCodecs.IsDecoderFailure(ex))
        {
            throw CompressionCodecs.Invalid(Type, ex.Message, ex);
        }
    }
}
