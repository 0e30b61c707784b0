using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using System.IO.Compression;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Protocol.Compression;

/// <summary>
/// Kafka's gzip codec: the records as one GZIP (RFC 1952) stream, as Java's GZIPOutputStream
/// writes it. Levels 0–9 (zlib); the default is zlib's own (6).
/// </summary>
internal sealed class GzipCodec : ICompressionCodec
{
    /// <summary>The shared instance.</summary>
    public static readonly GzipCodec Instance = new();

    private const int ReadChunk = 64 * 1024;

    /// <summary>A 10-byte header, an empty final deflate block (2 bytes) and the 8-byte trailer.</summary>
    private const int MinimumMemberSize = 20;

    /// <summary>
    /// A gzip member holding nothing: header (deflate, no flags, no time, unknown OS), an empty
    /// final fixed-Huffman block, CRC32 0 and size 0.
    /// </summary>
    private static ReadOnlySpan<byte> EmptyMember =>
        [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];

    private GzipCodec()
    {
    }

    /// <inheritdoc/>
    public CompressionType Type => CompressionType.Gzip;

    /// <inheritdoc/>
    public void CheckLevel(int? level, [CallerArgumentExpression(nameof(level))] string? parameterName = null)
    {
        if (level is < -1 or > 9)
        {
            throw new ArgumentOutOfRangeException(parameterName, level, "Gzip levels are 0 to 9 (-1 is the default).");
        }
    }

    /// <inheritdoc/>
    public void Compress(ReadOnlySpan<byte> source, PooledBufferWriter destination, int? level)
    {
        CheckLevel(level);
        int zlibLevel = level ?? -1;
        if (source.IsEmpty)
        {
            // GZipStream writes nothing at all for no input; emit a valid empty member instead.
            destination.Write(EmptyMember);
            return;
        }
        var options = new ZLibCompressionOptions { CompressionLevel = zlibLevel };
        using var output = new BufferWriterStream(destination);
        using (var gzip = new GZipStream(output, options, leaveOpen: true))
        {
            gzip.Write(source);
        }
    }

    /// <inheritdoc/>
    public void Decompress(ReadOnlyMemory<byte> source, PooledBufferWriter destination, int maxDecompressedBytes)
    {
        var bounded = new BoundedBufferWriter(destination, maxDecompressedBytes, Type);
        try
        {
            using var input = new ReadOnlyMemoryStream(source);
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            while (true)
            {
                // Ask for one byte more than allowed so a bomb is caught without growing further.
                int want = (int)Math.Min(ReadChunk, (long)bounded.Remaining + 1);
                Span<byte> span = destination.GetSpan(want)[..want];
                int n = gzip.Read(span);
                if (n == 0)
                {
                    CheckNotTruncated(source.Span, bounded.Written);
                    return;
                }
                bounded.Advance(n);
            }
        }
        catch (Exception ex) when (CompressionCodecs.IsDecoderFailure(ex))
        {
            throw CompressionCodecs.Invalid(Type, ex.Message, ex);
        }
    }

    /// <summary>
    /// GZipStream reports a stream cut short as a normal end, so check the trailer: a gzip member
    /// ends with ISIZE, its uncompressed length (mod 2^32). A complete stream decompresses to at
    /// least the last member's ISIZE (exactly it for the single member Kafka clients write), while
    /// the last four bytes of a truncated stream are compressed data, almost surely a larger number.
    /// </summary>
    private void CheckNotTruncated(ReadOnlySpan<byte> source, int decompressed)
    {
        if (source.Length < MinimumMemberSize)
        {
            throw CompressionCodecs.Invalid(Type, $"{source.Length} bytes cannot hold a gzip stream.");
        }
        uint lastMemberSize = BinaryPrimitives.ReadUInt32LittleEndian(source[^4..]);
        if (decompressed < lastMemberSize)
        {
            throw CompressionCodecs.Invalid(
                Type, $"the stream is truncated (decompressed {decompressed} bytes, the trailer declares {lastMemberSize}).");
        }
    }
}
