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

    private GzipCodec()
    {
    }

    /// <inheritdoc/>
    public CompressionType Type => CompressionType.Gzip;

    /// <inheritdoc/>
    public void Compress(ReadOnlySpan<byte> source, PooledBufferWriter destination, int? level)
    {
        int zlibLevel = level ?? -1;
        if (zlibLevel is < -1 or > 9)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "Gzip levels are 0 to 9.");
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
                int want = Math.Min(ReadChunk, bounded.Remaining + 1);
                Span<byte> span = destination.GetSpan(want)[..want];
                int n = gzip.Read(span);
                if (n == 0)
                {
                    return;
                }
                bounded.Advance(n);
            }
        }
        catch (InvalidDataException ex)
        {
            throw CompressionCodecs.Invalid(Type, ex.Message, ex);
        }
    }
}
