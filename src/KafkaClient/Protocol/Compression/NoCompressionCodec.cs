using System.Runtime.CompilerServices;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Protocol.Compression;

/// <summary>The identity codec (<see cref="CompressionType.None"/>): copies bytes unchanged.</summary>
internal sealed class NoCompressionCodec : ICompressionCodec
{
    /// <summary>The shared instance.</summary>
    public static readonly NoCompressionCodec Instance = new();

    private NoCompressionCodec()
    {
    }

    /// <inheritdoc/>
    public CompressionType Type => CompressionType.None;

    /// <inheritdoc/>
    public void CheckLevel(int? level, [CallerArgumentExpression(nameof(level))] string? parameterName = null)
    {
        if (level is not null and not 0)
        {
            throw new ArgumentOutOfRangeException(parameterName, level, "Uncompressed batches take no compression level.");
        }
    }

    /// <inheritdoc/>
    public void Compress(ReadOnlySpan<byte> source, PooledBufferWriter destination, int? level)
    {
        CheckLevel(level);
        destination.Write(source);
    }

    /// <inheritdoc/>
    public void Decompress(ReadOnlyMemory<byte> source, PooledBufferWriter destination, int maxDecompressedBytes)
    {
        new BoundedBufferWriter(destination, maxDecompressedBytes, Type).EnsureRoomFor(source.Length);
        destination.Write(source.Span);
    }
}
