using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using KafkaClient.Errors;

namespace KafkaClient.Protocol;

/// <summary>
/// Reads Kafka protocol primitives from one contiguous frame. <c>bytes</c> and <c>records</c>
/// fields are returned as slices of the frame's memory, not copies, so whoever owns the frame
/// owns them too. Every length is checked against what remains: a truncated or malformed frame
/// raises <see cref="KafkaProtocolException"/>, never another exception or a huge allocation.
/// </summary>
public ref struct ProtocolReader
{
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    /// <summary>Creates a reader over <paramref name="frame"/>.</summary>
    public ProtocolReader(ReadOnlyMemory<byte> frame)
    {
        _memory = frame;
        _span = frame.Span;
        _position = 0;
    }

    /// <summary>Bytes consumed so far.</summary>
    public readonly int Position => _position;

    /// <summary>Bytes not yet consumed.</summary>
    public readonly int Remaining => _span.Length - _position;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(_span.Length - _position))
        {
            ThrowTruncated(count);
        }
        var slice = _span.Slice(_position, count);
        _position += count;
        return slice;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private readonly void ThrowTruncated(int count) =>
        throw new KafkaProtocolException($"Frame truncated: needed {count} bytes at offset {_position}, {Remaining} left.");

    /// <summary>Reads a boolean (any non-zero byte is true).</summary>
    public bool ReadBool() => Take(1)[0] != 0;

    /// <summary>Reads a signed byte.</summary>
    public sbyte ReadInt8() => (sbyte)Take(1)[0];

    /// <summary>Reads a big-endian 16-bit integer.</summary>
    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    /// <summary>Reads a big-endian unsigned 16-bit integer.</summary>
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    /// <summary>Reads a big-endian 32-bit integer.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    /// <summary>Reads a big-endian unsigned 32-bit integer.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    /// <summary>Reads a big-endian 64-bit integer.</summary>
    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    /// <summary>Reads a big-endian IEEE 754 double.</summary>
    public double ReadFloat64() => BinaryPrimitives.ReadDoubleBigEndian(Take(8));

    /// <summary>Reads a 16-byte UUID, most significant byte first.</summary>
    public Guid ReadUuid() => new(Take(16), bigEndian: true);

    /// <summary>Reads an unsigned varint.</summary>
    public uint ReadUnsignedVarInt()
    {
        int n = Varint.TryReadUnsigned(_span[_position..], out uint value);
        if (n <= 0)
        {
            throw new KafkaProtocolException(n == 0
                ? $"Frame truncated inside a varint at offset {_position}."
                : $"Malformed varint at offset {_position}: longer than 5 bytes.");
        }
        _position += n;
        return value;
    }

    /// <summary>Reads a zig-zag signed varint.</summary>
    public int ReadVarInt() => Varint.UnZigZag(ReadUnsignedVarInt());

    /// <summary>Reads a zig-zag signed varlong.</summary>
    public long ReadVarLong()
    {
        int n = Varint.TryReadUnsigned(_span[_position..], out ulong value);
        if (n <= 0)
        {
            throw new KafkaProtocolException(n == 0
                ? $"Frame truncated inside a varlong at offset {_position}."
                : $"Malformed varlong at offset {_position}: longer than 10 bytes.");
        }
        _position += n;
        return Varint.UnZigZag(value);
    }

    /// <summary>Reads <paramref name="count"/> raw bytes as a slice of the frame.</summary>
    public ReadOnlyMemory<byte> ReadRaw(int count)
    {
        if (count < 0 || count > Remaining)
        {
            ThrowTruncated(count);
        }
        var slice = _memory.Slice(_position, count);
        _position += count;
        return slice;
    }

    /// <summary>Skips <paramref name="count"/> bytes.</summary>
    public void Skip(int count) => Take(count);

    /// <summary>
    /// Reads an array length: -1 for a null array. Each element takes at least one byte, so a
    /// length larger than what remains is rejected before anything is allocated.
    /// </summary>
    public int ReadArrayLength(bool compact)
    {
        int count;
        if (compact)
        {
            uint raw = ReadUnsignedVarInt();
            count = raw == 0 ? -1 : raw - 1 > int.MaxValue ? int.MaxValue : (int)(raw - 1);
        }
        else
        {
            count = ReadInt32();
            if (count < -1)
            {
                throw new KafkaProtocolException($"Negative array length {count} at offset {_position - 4}.");
            }
        }
        if (count > Remaining)
        {
            throw new KafkaProtocolException($"Array length {count} exceeds the {Remaining} bytes left in the frame.");
        }
        return count;
    }

    /// <summary>Reads a string (null when the length is -1, or 0 in compact form).</summary>
    public string? ReadString(bool compact)
    {
        int length;
        if (compact)
        {
            uint raw = ReadUnsignedVarInt();
            length = raw == 0 ? -1 : (int)Math.Min(raw - 1, int.MaxValue);
        }
        else
        {
            length = ReadInt16();
            if (length < -1)
            {
                throw new KafkaProtocolException($"Negative string length {length} at offset {_position - 2}.");
            }
        }
        if (length < 0)
        {
            return null;
        }
        var bytes = Take(length);
        try
        {
            return Encoding.UTF8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new KafkaProtocolException("A protocol string is not valid UTF-8.", ex);
        }
    }

    /// <summary>Reads bytes as a slice of the frame (null when the length is -1, or 0 in compact form).</summary>
    public ReadOnlyMemory<byte>? ReadBytes(bool compact)
    {
        int length;
        if (compact)
        {
            uint raw = ReadUnsignedVarInt();
            length = raw == 0 ? -1 : (int)Math.Min(raw - 1, int.MaxValue);
        }
        else
        {
            length = ReadInt32();
            if (length < -1)
            {
                throw new KafkaProtocolException($"Negative bytes length {length} at offset {_position - 4}.");
            }
        }
        return length < 0 ? (ReadOnlyMemory<byte>?)null : ReadRaw(length);
    }

    /// <summary>Reads a tagged field's size prefix and returns its raw bytes.</summary>
    public RawTaggedField ReadRawTaggedField(int tag) => new(tag, ReadRaw(ReadTaggedFieldSize()));

    /// <summary>Reads a tagged field's tag number.</summary>
    public int ReadTag()
    {
        uint tag = ReadUnsignedVarInt();
        return tag > int.MaxValue ? throw new KafkaProtocolException($"Tag {tag} is out of range.") : (int)tag;
    }

    /// <summary>Reads a tagged field's size, checked against what remains of the frame.</summary>
    public int ReadTaggedFieldSize()
    {
        uint size = ReadUnsignedVarInt();
        return size > (uint)Remaining
            ? throw new KafkaProtocolException($"Tagged field size {size} exceeds the {Remaining} bytes left in the frame.")
            : (int)size;
    }
}
