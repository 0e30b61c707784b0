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

    /// <summary>
    /// True for an exception a third-party decoder raised on bad input. Decoders fed corrupt data
    /// throw a variety of types (InvalidDataException, ArgumentException, InvalidOperationException,
    /// their own exception types...), so everything except our own typed errors and out-of-memory
    /// is reported as <see cref="CorruptRecordReason.InvalidCompressedData"/> with the original as inner exception.
    /// </summary>
    internal static bool IsDecoderFailure(Exception ex) => ex is not (CorruptRecordException or OutOfMemoryException);

    internal static CorruptRecordException Invalid(CompressionType type, string detail, Exception? inner = null) =>
        new(CorruptRecordReason.InvalidCompressedData, $"The {type} compressed records are invalid: {detail}", inner);

    internal static CorruptRecordException TooLarge(CompressionType type, int maxDecompressedBytes) =>
        new(
            CorruptRecordReason.DecompressedSizeLimitExceeded,
            $"The {type} compressed records decompress to more than the allowed {maxDecompressedBytes} bytes.");
}
