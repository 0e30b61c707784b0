using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using KafkaClient.Errors;

namespace KafkaClient.Protocol;

/// <summary>
/// Writes Kafka protocol primitives (big-endian integers, varints, classic and compact strings,
/// bytes and arrays, UUIDs, tagged-field sections) into an <see cref="IBufferWriter{T}"/>.
/// Call <see cref="Flush"/> when done so the last buffered bytes are committed to the output.
/// </summary>
public ref struct ProtocolWriter
{
    private readonly IBufferWriter<byte> _output;
    private Span<byte> _span;
    private int _buffered;
    private long _committed;

    /// <summary>Creates a writer over <paramref name="output"/>.</summary>
    public ProtocolWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _span = default;
        _buffered = 0;
        _committed = 0;
    }

    /// <summary>Total bytes written through this writer so far, committed or not.</summary>
    public readonly long BytesWritten => _committed + _buffered;

    /// <summary>Commits buffered bytes to the underlying output.</summary>
    public void Flush()
    {
        if (_buffered > 0)
        {
            _output.Advance(_buffered);
            _committed += _buffered;
            _buffered = 0;
        }
        _span = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int count)
    {
        if (_span.Length - _buffered < count)
        {
            Grow(count);
        }
        return _span.Slice(_buffered, count);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int count)
    {
        Flush();
        _span = _output.GetSpan(Math.Max(count, 256));
    }

    /// <summary>Writes a boolean as one byte.</summary>
    public void WriteBool(bool value) => WriteInt8(value ? (sbyte)1 : (sbyte)0);

    /// <summary>Writes a signed byte.</summary>
    public void WriteInt8(sbyte value)
    {
        Reserve(1)[0] = (byte)value;
        _buffered += 1;
    }

    /// <summary>Writes a big-endian 16-bit integer.</summary>
    public void WriteInt16(short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(Reserve(2), value);
        _buffered += 2;
    }

    /// <summary>Writes a big-endian unsigned 16-bit integer.</summary>
    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);
        _buffered += 2;
    }

    /// <summary>Writes a big-endian 32-bit integer.</summary>
    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(Reserve(4), value);
        _buffered += 4;
    }

    /// <summary>Writes a big-endian unsigned 32-bit integer.</summary>
    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);
        _buffered += 4;
    }

    /// <summary>Writes a big-endian 64-bit integer.</summary>
    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(Reserve(8), value);
        _buffered += 8;
    }

    /// <summary>Writes a big-endian IEEE 754 double.</summary>
    public void WriteFloat64(double value)
    {
        BinaryPrimitives.WriteDoubleBigEndian(Reserve(8), value);
        _buffered += 8;
    }

    /// <summary>Writes a UUID as 16 bytes, most significant first (Kafka's layout).</summary>
    public void WriteUuid(Guid value)
    {
        value.TryWriteBytes(Reserve(16), bigEndian: true, out _);
        _buffered += 16;
    }

    /// <summary>Writes an unsigned varint.</summary>
    public void WriteUnsignedVarInt(uint value)
    {
        // Reserve may flush and reset _buffered, so it must run before _buffered is read.
        int written = Varint.WriteUnsigned(Reserve(Varint.MaxLength32), value);
        _buffered += written;
    }

    /// <summary>Writes a zig-zag signed varint.</summary>
    public void WriteVarInt(int value) => WriteUnsignedVarInt(Varint.ZigZag(value));

    /// <summary>Writes a zig-zag signed varlong.</summary>
    public void WriteVarLong(long value)
    {
        int written = Varint.WriteUnsigned(Reserve(Varint.MaxLength64), Varint.ZigZag(value));
        _buffered += written;
    }

    /// <summary>Writes raw bytes with no length prefix.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_span.Length - _buffered == 0)
            {
                Grow(Math.Min(bytes.Length, 64 * 1024));
            }
            int n = Math.Min(bytes.Length, _span.Length - _buffered);
            bytes[..n].CopyTo(_span[_buffered..]);
            _buffered += n;
            bytes = bytes[n..];
        }
    }

    /// <summary>Writes raw bytes from a sequence with no length prefix.</summary>
    public void WriteRaw(in ReadOnlySequence<byte> bytes)
    {
        foreach (var segment in bytes)
        {
            WriteRaw(segment.Span);
        }
    }

    /// <summary>Writes an array length: int32 (-1 for null) or, when compact, unsigned varint of length+1 (0 for null).</summary>
    public void WriteArrayLength(int count, bool compact)
    {
        if (compact)
        {
            WriteUnsignedVarInt((uint)(count + 1));
        }
        else
        {
            WriteInt32(count);
        }
    }

    /// <summary>
    /// Writes a string: int16 length (-1 for null) or, when compact, unsigned varint of length+1 (0 for null).
    /// </summary>
    public void WriteString(string? value, bool compact)
    {
        if (value is null)
        {
            if (compact)
            {
                WriteUnsignedVarInt(0);
            }
            else
            {
                WriteInt16(-1);
            }
            return;
        }
        int length = Encoding.UTF8.GetByteCount(value);
        if (compact)
        {
            WriteUnsignedVarInt((uint)length + 1);
        }
        else
        {
            if (length > short.MaxValue)
            {
                throw new KafkaProtocolException($"A string of {length} UTF-8 bytes is longer than the protocol's 32767-byte limit.");
            }
            WriteInt16((short)length);
        }
        if (length <= 512)
        {
            int written = Encoding.UTF8.GetBytes(value, Reserve(length));
            _buffered += written;
        }
        else
        {
            byte[] rented = ArrayPool<byte>.Shared.Rent(length);
            int n = Encoding.UTF8.GetBytes(value, rented);
            WriteRaw(rented.AsSpan(0, n));
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Writes bytes: int32 length (-1 for null) or, when compact, unsigned varint of length+1 (0 for null).
    /// </summary>
    public void WriteBytes(ReadOnlyMemory<byte>? value, bool compact)
    {
        if (value is not { } bytes)
        {
            if (compact)
            {
                WriteUnsignedVarInt(0);
            }
            else
            {
                WriteInt32(-1);
            }
            return;
        }
        if (compact)
        {
            WriteUnsignedVarInt((uint)bytes.Length + 1);
        }
        else
        {
            WriteInt32(bytes.Length);
        }
        WriteRaw(bytes.Span);
    }

    /// <summary>Writes an unknown (raw) tagged field: tag, size, then its bytes.</summary>
    public void WriteRawTaggedField(in RawTaggedField field)
    {
        WriteUnsignedVarInt((uint)field.Tag);
        WriteUnsignedVarInt((uint)field.Data.Length);
        WriteRaw(field.Data.Span);
    }
}
