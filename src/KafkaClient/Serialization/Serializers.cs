using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace KafkaClient.Serialization;

/// <summary>What a serializer is serializing: the topic, and whether it is a key or a value.</summary>
/// <param name="Topic">The destination topic.</param>
/// <param name="IsKey">True for the record key, false for the value.</param>
public readonly record struct SerializationContext(string Topic, bool IsKey);

/// <summary>
/// Turns a <typeparamref name="T"/> into bytes, written straight into the producer's buffer.
/// A null key or value is never passed in: it becomes a null key or value on the wire.
/// </summary>
/// <typeparam name="T">The type serialized.</typeparam>
public interface ISerializer<in T>
{
    /// <summary>Writes <paramref name="value"/> into <paramref name="output"/>.</summary>
    void Serialize(T value, IBufferWriter<byte> output, SerializationContext context);
}

/// <summary>The built-in serializers.</summary>
public static class Serializers
{
    /// <summary>Bytes as they are.</summary>
    public static ISerializer<byte[]> ByteArray { get; } = new ByteArraySerializer();

    /// <summary>Bytes as they are.</summary>
    public static ISerializer<ReadOnlyMemory<byte>> Memory { get; } = new MemorySerializer();

    /// <summary>UTF-8 text.</summary>
    public static ISerializer<string> Utf8 { get; } = new Utf8Serializer();

    /// <summary>A 32-bit integer, big-endian (as Java's <c>IntegerSerializer</c>).</summary>
    public static ISerializer<int> Int32 { get; } = new Int32Serializer();

    /// <summary>A 64-bit integer, big-endian (as Java's <c>LongSerializer</c>).</summary>
    public static ISerializer<long> Int64 { get; } = new Int64Serializer();

    /// <summary>Always a null key or value (for records with no key).</summary>
    public static ISerializer<Null> Null { get; } = new NullSerializer();

    /// <summary>JSON via System.Text.Json with a source-generated (trimming- and AOT-safe) type info.</summary>
    public static ISerializer<T> Json<T>(JsonTypeInfo<T> typeInfo) => new JsonSerializer<T>(typeInfo);

    /// <summary>The built-in serializer for <typeparamref name="T"/>, or null when there is none.</summary>
    public static ISerializer<T>? Default<T>() => (typeof(T) == typeof(byte[]) ? ByteArray
        : typeof(T) == typeof(ReadOnlyMemory<byte>) ? Memory
        : typeof(T) == typeof(string) ? Utf8
        : typeof(T) == typeof(int) ? Int32
        : typeof(T) == typeof(long) ? Int64
        : typeof(T) == typeof(Null) ? (object)Null
        : null) as ISerializer<T>;

    private sealed class ByteArraySerializer : ISerializer<byte[]>
    {
        public void Serialize(byte[] value, IBufferWriter<byte> output, SerializationContext context) => output.Write(value);
    }

    private sealed class MemorySerializer : ISerializer<ReadOnlyMemory<byte>>
    {
        public void Serialize(ReadOnlyMemory<byte> value, IBufferWriter<byte> output, SerializationContext context) => output.Write(value.Span);
    }

    private sealed class Utf8Serializer : ISerializer<string>
    {
        public void Serialize(string value, IBufferWriter<byte> output, SerializationContext context)
        {
            var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(value.Length));
            output.Advance(Encoding.UTF8.GetBytes(value, span));
        }
    }

    private sealed class Int32Serializer : ISerializer<int>
    {
        public void Serialize(int value, IBufferWriter<byte> output, SerializationContext context)
        {
            BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), value);
            output.Advance(4);
        }
    }

    private sealed class Int64Serializer : ISerializer<long>
    {
        public void Serialize(long value, IBufferWriter<byte> output, SerializationContext context)
        {
            BinaryPrimitives.WriteInt64BigEndian(output.GetSpan(8), value);
            output.Advance(8);
        }
    }

    private sealed class NullSerializer : ISerializer<Null>
    {
        public void Serialize(Null value, IBufferWriter<byte> output, SerializationContext context)
        {
        }
    }

    private sealed class JsonSerializer<T>(JsonTypeInfo<T> typeInfo) : ISerializer<T>
    {
        [ThreadStatic]
        private static Utf8JsonWriter? t_writer;

        public void Serialize(T value, IBufferWriter<byte> output, SerializationContext context)
        {
            var writer = t_writer;
            if (writer is null)
            {
                writer = t_writer = new Utf8JsonWriter(output);
            }
            else
            {
                writer.Reset(output);
            }
            System.Text.Json.JsonSerializer.Serialize(writer, value, typeInfo);
            writer.Flush();
        }
    }
}

/// <summary>The type of a key or value that is always null.</summary>
public sealed class Null
{
    private Null()
    {
    }
}
