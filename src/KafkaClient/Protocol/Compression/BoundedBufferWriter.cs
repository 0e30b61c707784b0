using System.Buffers;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Protocol.Compression;

/// <summary>
/// Wraps a <see cref="PooledBufferWriter"/> for a decompressor and fails with
/// <see cref="Errors.CorruptRecordReason.DecompressedSizeLimitExceeded"/> as soon as more than the
/// allowed number of bytes has been produced, so a decompression bomb never grows the buffer far.
/// </summary>
internal readonly struct BoundedBufferWriter : IBufferWriter<byte>
{
    private readonly PooledBufferWriter _inner;
    private readonly int _start;
    private readonly int _maxBytes;
    private readonly CompressionType _codec;

    /// <summary>Bounds the bytes appended to <paramref name="inner"/> from now on.</summary>
    public BoundedBufferWriter(PooledBufferWriter inner, int maxBytes, CompressionType codec)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        _inner = inner;
        _start = inner.WrittenCount;
        _maxBytes = maxBytes;
        _codec = codec;
    }

    /// <summary>Bytes appended through this writer so far.</summary>
    public int Written => _inner.WrittenCount - _start;

    /// <summary>Bytes that may still be appended.</summary>
    public int Remaining => _maxBytes - Written;

    /// <inheritdoc/>
    public void Advance(int count)
    {
        if (count > Remaining)
        {
            throw CompressionCodecs.TooLarge(_codec, _maxBytes);
        }
        _inner.Advance(count);
    }

    /// <inheritdoc/>
    public Memory<byte> GetMemory(int sizeHint = 0) => _inner.GetMemory(sizeHint);

    /// <inheritdoc/>
    public Span<byte> GetSpan(int sizeHint = 0) => _inner.GetSpan(sizeHint);

    /// <summary>Fails when appending <paramref name="count"/> more bytes would pass the limit.</summary>
    public void EnsureRoomFor(long count)
    {
        if (count > Remaining)
        {
            throw CompressionCodecs.TooLarge(_codec, _maxBytes);
        }
    }
}
