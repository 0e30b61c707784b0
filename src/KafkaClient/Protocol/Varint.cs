using System.Runtime.CompilerServices;

namespace KafkaClient.Protocol;

/// <summary>
/// Span-based variable-length integer primitives shared by the protocol codec and the record batch
/// code: unsigned LEB128 varints and their zig-zag signed forms, as the Kafka protocol defines them.
/// </summary>
internal static class Varint
{
    /// <summary>The most bytes an unsigned 32-bit varint can take.</summary>
    public const int MaxLength32 = 5;

    /// <summary>The most bytes an unsigned 64-bit varint can take.</summary>
    public const int MaxLength64 = 10;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int UnZigZag(uint value) => (int)(value >> 1) ^ -(int)(value & 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    /// <summary>Bytes needed to write <paramref name="value"/> as an unsigned varint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfUnsigned(uint value) => (38 - System.Numerics.BitOperations.LeadingZeroCount(value | 1)) / 7;

    /// <summary>Bytes needed to write <paramref name="value"/> as an unsigned 64-bit varint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfUnsigned(ulong value) => (70 - System.Numerics.BitOperations.LeadingZeroCount(value | 1)) / 7;

    /// <summary>Bytes needed to write <paramref name="value"/> as a zig-zag varint.</summary>
    public static int SizeOf(int value) => SizeOfUnsigned(ZigZag(value));

    /// <summary>Bytes needed to write <paramref name="value"/> as a zig-zag varlong.</summary>
    public static int SizeOf(long value) => SizeOfUnsigned(ZigZag(value));

    /// <summary>Writes an unsigned varint; the span must have room (see <see cref="MaxLength32"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteUnsigned(Span<byte> destination, uint value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Writes an unsigned 64-bit varint; the span must have room (see <see cref="MaxLength64"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteUnsigned(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Writes a zig-zag varint.</summary>
    public static int Write(Span<byte> destination, int value) => WriteUnsigned(destination, ZigZag(value));

    /// <summary>Writes a zig-zag varlong.</summary>
    public static int Write(Span<byte> destination, long value) => WriteUnsigned(destination, ZigZag(value));

    /// <summary>
    /// Reads an unsigned varint. Returns the bytes consumed, 0 when the span ends before the varint
    /// does, or -1 when the varint is longer than 5 bytes (malformed).
    /// </summary>
    public static int TryReadUnsigned(ReadOnlySpan<byte> source, out uint value)
    {
        uint result = 0;
        int shift = 0;
        for (int i = 0; i < source.Length; i++)
        {
            byte b = source[i];
            if (i == MaxLength32 - 1 && b > 0x0F)
            {
                value = 0;
                return -1;
            }
            result |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                value = result;
                return i + 1;
            }
            shift += 7;
        }
        value = 0;
        return source.Length >= MaxLength32 ? -1 : 0;
    }

    /// <summary>Reads an unsigned 64-bit varint; same return convention as the 32-bit form.</summary>
    public static int TryReadUnsigned(ReadOnlySpan<byte> source, out ulong value)
    {
        ulong result = 0;
        int shift = 0;
        for (int i = 0; i < source.Length; i++)
        {
            byte b = source[i];
            if (i == MaxLength64 - 1 && b > 0x01)
            {
                value = 0;
                return -1;
            }
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                value = result;
                return i + 1;
            }
            shift += 7;
        }
        value = 0;
        return source.Length >= MaxLength64 ? -1 : 0;
    }
}
