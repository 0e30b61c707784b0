using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using KafkaClient.Protocol.Records;
using Snappier;

namespace KafkaClient.Protocol.Compression;

/// <summary>
/// Kafka's snappy codec. Writes the xerial (snappy-java) framing the Java client uses: a 16-byte
/// header (magic <c>82 'SNAPPY' 00</c>, version 1, compatible version 1) followed by blocks of at most
/// 32 KiB of input, each a big-endian int32 compressed length and a raw snappy block. Reads both
/// that framing and a single raw snappy block (as some other clients write), told apart by the magic.
/// </summary>
internal sealed class SnappyCodec : ICompressionCodec
{
    /// <summary>The shared instance.</summary>
    public static readonly SnappyCodec Instance = new();

    /// <summary>Uncompressed bytes per xerial block, snappy-java's default block size.</summary>
    internal const int BlockSize = 32 * 1024;

    /// <summary>Length of the xerial stream header.</summary>
    internal const int HeaderLength = 16;

    private static ReadOnlySpan<byte> Magic => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0];

    private SnappyCodec()
    {
    }

    /// <inheritdoc/>
    public CompressionType Type => CompressionType.Snappy;

    /// <summary>True when <paramref name="data"/> starts with the xerial stream magic.</summary>
    internal static bool IsXerialFramed(ReadOnlySpan<byte> data) => data.Length >= Magic.Length && data.StartsWith(Magic);

    /// <inheritdoc/>
    public void CheckLevel(int? level, [CallerArgumentExpression(nameof(level))] string? parameterName = null)
    {
        if (level is not null)
        {
            throw new ArgumentOutOfRangeException(parameterName, level, "Snappy has no compression levels.");
        }
    }

    /// <inheritdoc/>
    public void Compress(ReadOnlySpan<byte> source, PooledBufferWriter destination, int? level)
    {
        CheckLevel(level);

        Span<byte> header = destination.GetSpan(HeaderLength);
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32BigEndian(header[8..], 1);
        BinaryPrimitives.WriteInt32BigEndian(header[12..], 1);
        destination.Advance(HeaderLength);

        while (!source.IsEmpty)
        {
            ReadOnlySpan<byte> chunk = source[..Math.Min(BlockSize, source.Length)];
            Span<byte> block = destination.GetSpan(4 + Snappy.GetMaxCompressedLength(chunk.Length));
            int compressed = Snappy.Compress(chunk, block[4..]);
            BinaryPrimitives.WriteInt32BigEndian(block, compressed);
            destination.Advance(4 + compressed);
            source = source[chunk.Length..];
        }
    }

    /// <inheritdoc/>
    public void Decompress(ReadOnlyMemory<byte> source, PooledBufferWriter destination, int maxDecompressedBytes)
    {
        var bounded = new BoundedBufferWriter(destination, maxDecompressedBytes, Type);
        ReadOnlySpan<byte> data = source.Span;
        if (!IsXerialFramed(data))
        {
            DecompressBlock(data, destination, bounded);
            return;
        }
        if (data.Length < HeaderLength)
        {
            throw CompressionCodecs.Invalid(Type, "the xerial stream header is truncated.");
        }
        data = data[HeaderLength..];
        while (!data.IsEmpty)
        {
            if (data.Length < 4)
            {
                throw CompressionCodecs.Invalid(Type, "a xerial block length is truncated.");
            }
            int length = BinaryPrimitives.ReadInt32BigEndian(data);
            if (length < 0 || length > data.Length - 4)
            {
                throw CompressionCodecs.Invalid(
                    Type, $"a xerial block claims {length} bytes but {data.Length - 4} remain.");
            }
            DecompressBlock(data.Slice(4, length), destination, bounded);
            data = data[(4 + length)..];
        }
    }

    private void DecompressBlock(ReadOnlySpan<byte> block, PooledBufferWriter destination, BoundedBufferWriter bounded)
    {
        try
        {
            int length = Snappy.GetUncompressedLength(block);
            bounded.EnsureRoomFor(length);
            Span<byte> target = destination.GetSpan(length)[..length];
            int written = Snappy.Decompress(block, target);
            if (written != length)
            {
                throw CompressionCodecs.Invalid(Type, $"a block declared {length} bytes but produced {written}.");
            }
            bounded.Advance(written);
        }
        catch (Exception ex) when (CompressionCodecs.IsDecoderFailure(ex))
        {
            throw CompressionCodecs.Invalid(Type, ex.Message, ex);
        }
    }
}
