using KafkaClient.Errors;

namespace KafkaClient.Protocol.Compression;

/// <summary>Finds the codec for a <see cref="CompressionType"/> and builds the codecs' shared errors.</summary>
internal static class CompressionCodecs
{
    private static readonly ICompressionCodec[] Codecs =
    [
        NoCompressionCodec.Instance,
        GzipCodec.Instance,
        SnappyCodec.Instance,
        Lz4Codec.Instance,
        ZstdCodec.Instance,
    ];

    /// <summary>Returns the codec for <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not a known codec.</exception>
    public static ICompressionCodec Get(CompressionType type)
    {
        if ((uint)type >= (uint)Codecs.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown compression type.");
        }
        return Codecs[(int)type];
    }

    /// <summary>True when <paramref name="type"/> names a codec this client implements.</summary>
    public static bool IsKnown(CompressionType type) => (uint)type < (uint)Codecs.Length;

    internal static CorruptRecordException Invalid(CompressionType type, string detail, Exception? inner = null) =>
        new(CorruptRecordReason.InvalidCompressedData, $"The {type} compressed records are invalid: {detail}", inner);

    internal static CorruptRecordException TooLarge(CompressionType type, int maxDecompressedBytes) =>
        new(
            CorruptRecordReason.DecompressedSizeLimitExceeded,
            $"The {type} compressed records decompress to more than the allowed {maxDecompressedBytes} bytes.");
}
