using System.Buffers;
using System.Runtime.CompilerServices;

namespace KafkaClient.Protocol.Records;

/// <summary>
/// A growable byte buffer whose storage is rented from <see cref="ArrayPool{T}.Shared"/>.
/// <see cref="Reset"/> empties it but keeps the array for reuse; <see cref="Dispose"/> returns the array.
/// Not thread-safe.
/// </summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private const int MinimumGrowth = 256;

    private byte[] _buffer;
    private int _written;

    /// <summary>Creates an empty buffer; nothing is rented until the first write when <paramref name="initialCapacity"/> is 0.</summary>
    public PooledBufferWriter(int initialCapacity = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        _buffer = initialCapacity == 0 ? [] : ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    /// <summary>Bytes written so far.</summary>
    public int WrittenCount => _written;

    /// <summary>Size of the current backing array.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The written bytes; writable so callers can patch headers in place.</summary>
    public Span<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    /// <summary>The written bytes as memory; valid until the buffer grows, is reset or disposed.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    /// <summary>Forgets the written bytes, keeping the backing array.</summary>
    public void Reset() => _written = 0;

    /// <summary>Forgets the written bytes and returns the backing array to the pool.</summary>
    public void Release()
    {
        _written = 0;
        byte[] old = _buffer;
        _buffer = [];
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Release();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written))
        {
            ThrowAdvancedTooFar();
        }
        _written += count;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (_buffer.Length - _written < Math.Max(sizeHint, 1))
        {
            Grow(sizeHint);
        }
        return _buffer.AsSpan(_written);
    }

    /// <inheritdoc/>
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_buffer.Length - _written < Math.Max(sizeHint, 1))
        {
            Grow(sizeHint);
        }
        return _buffer.AsMemory(_written);
    }

    /// <summary>Appends <paramref name="source"/>.</summary>
    public void Write(ReadOnlySpan<byte> source)
    {
        source.CopyTo(GetSpan(source.Length));
        _written += source.Length;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int sizeHint)
    {
        long needed = (long)_written + Math.Max(sizeHint, 1);
        if (needed > Array.MaxLength)
        {
            throw new InvalidOperationException($"A pooled buffer cannot grow beyond {Array.MaxLength} bytes.");
        }
        long doubled = Math.Max((long)_buffer.Length * 2, MinimumGrowth);
        int newSize = (int)Math.Min(Math.Max(needed, doubled), Array.MaxLength);
        byte[] bigger = ArrayPool<byte>.Shared.Rent(newSize);
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        byte[] old = _buffer;
        _buffer = bigger;
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    private static void ThrowAdvancedTooFar() =>
        throw new InvalidOperationException("Cannot advance past the end of the span handed out by GetSpan.");
}
