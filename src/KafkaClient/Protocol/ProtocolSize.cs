using System.Text;

namespace KafkaClient.Protocol;

/// <summary>Encoded sizes of protocol primitives, used by the generated <c>ComputeSize</c> methods.</summary>
public static class ProtocolSize
{
    /// <summary>Encoded size of an unsigned varint.</summary>
    public static int UnsignedVarInt(uint value) => Varint.SizeOfUnsigned(value);

    /// <summary>Encoded size of a string, classic or compact, null included.</summary>
    public static int String(string? value, bool compact)
    {
        if (value is null)
        {
            return compact ? 1 : 2;
        }
        int length = Encoding.UTF8.GetByteCount(value);
        return length + (compact ? Varint.SizeOfUnsigned((uint)length + 1) : 2);
    }

    /// <summary>Encoded size of a bytes field, classic or compact, null included.</summary>
    public static int Bytes(ReadOnlyMemory<byte>? value, bool compact)
    {
        if (value is not { } bytes)
        {
            return compact ? 1 : 4;
        }
        return bytes.Length + (compact ? Varint.SizeOfUnsigned((uint)bytes.Length + 1) : 4);
    }

    /// <summary>Encoded size of an array length prefix.</summary>
    public static int ArrayLength(int count, bool compact) => compact ? Varint.SizeOfUnsigned((uint)(count + 1)) : 4;

    /// <summary>Encoded size of a raw tagged field including its tag and size prefixes.</summary>
    public static int RawTaggedField(in RawTaggedField field) =>
        Varint.SizeOfUnsigned((uint)field.Tag) + Varint.SizeOfUnsigned((uint)field.Data.Length) + field.Data.Length;
}
