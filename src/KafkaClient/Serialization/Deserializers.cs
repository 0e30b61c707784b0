using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using KafkaClient.Errors;

namespace KafkaClient.Serialization;

/// <summary>What a deserializer is reading: the topic, and whether it is a key or a value.</summary>
/// <param name="Topic">The source topic.</param>
/// <param name="IsKey">True for the record key, false for the value.</param>
public readonly record struct DeserializationContext(string Topic, bool IsKey);

/// <summary>
/// Turns the bytes of a record's key or value into a <typeparamref name="T"/>. The bytes are a view of the
/// consumer's fetch buffer: copy what must outlive the call (the built-in <see cref="Deserializers.Memory"/>
/// deliberately does not; see there).
/// </summary>
/// <typeparam name="T">The type produced.</typeparam>
public interface IDeserializer<out T>
{
    /// <summary>Reads <paramref name="data"/>; <paramref name="isNull"/> tells a null key or value (data empty) from an empty one.</summary>
    T Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context);
}

/// <summary>The built-in deserializers, matching <see cref="Serializers"/>.</summary>
public static class Deserializers
{
    /// <summary>A copy of the bytes; null stays null.</summary>
    public static IDeserializer<byte[]?> ByteArray { get; } = new ByteArrayDeserializer();

    /// <summary>
    /// The bytes without a copy: a view of the consumer's buffer, valid until the next consume call
    /// (or the runner handler's return). Copy with <c>ToArray()</c> to keep them. Null becomes empty.
    /// </summary>
    public static IDeserializer<ReadOnlyMemory<byte>> Memory { get; } = new MemoryDeserializer();

    /// <summary>UTF-8 text; null stays null.</summary>
    public static IDeserializer<string?> Utf8 { get; } = new Utf8Deserializer();

    /// <summary>A 32-bit big-endian integer (Java's <c>IntegerDeserializer</c>); anything but 4 bytes is an error.</summary>
    public static IDeserializer<int> Int32 { get; } = new Int32Deserializer();

    /// <summary>A 64-bit big-endian integer (Java's <c>LongDeserializer</c>); anything but 8 bytes is an error.</summary>
    public static IDeserializer<long> Int64 { get; } = new Int64Deserializer();

    /// <summary>Ignores the bytes (for keys or values that are always null or not wanted).</summary>
    public static IDeserializer<Null?> Null { get; } = new NullDeserializer();

    /// <summary>JSON via System.Text.Json with a source-generated (trimming- and AOT-safe) type info; null bytes become default.</summary>
    public static IDeserializer<T?> Json<T>(JsonTypeInfo<T> typeInfo) => new JsonDeserializer<T>(typeInfo);

    /// <summary>The built-in deserializer for <typeparamref name="T"/>, or null when there is none.</summary>
    public static IDeserializer<T>? Default<T>() => (typeof(T) == typeof(byte[]) ? ByteArray
        : typeof(T) == typeof(ReadOnlyMemory<byte>) ? Memory
        : typeof(T) == typeof(string) ? Utf8
        : typeof(T) == typeof(int) ? Int32
        : typeof(T) == typeof(long) ? Int64
        : typeof(T) == typeof(Null) ? (object)Null
        : null) as IDeserializer<T>;

    private static ReadOnlySpan<byte> Contiguous(in ReadOnlySequence<byte> data, Span<byte> scratch) =>
        data.IsSingleSegment ? data.FirstSpan : Copy(data, scratch);

    private static ReadOnlySpan<byte> Copy(in ReadOnlySequence<byte> data, Span<byte> scratch)
    {
        data.CopyTo(scratch);
        return scratch[..(int)data.Length];
    }

    private sealed class ByteArrayDeserializer : IDeserializer<byte[]?>
    {
        public byte[]? Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context) => isNull ? null : data.ToArray();
    }

    private sealed class MemoryDeserializer : IDeserializer<ReadOnlyMemory<byte>>
    {
        public ReadOnlyMemory<byte> Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context) =>
            data.IsSingleSegment ? data.First : data.ToArray();
    }

    private sealed class Utf8Deserializer : IDeserializer<string?>
    {
        public string? Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context) =>
            isNull ? null : data.IsSingleSegment ? Encoding.UTF8.GetString(data.FirstSpan) : Encoding.UTF8.GetString(data);
    }

    private sealed class Int32Deserializer : IDeserializer<int>
    {
        public int Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context)
        {
            if (data.Length != 4)
            {
                throw new KafkaSerializationException($"A 32-bit integer {(context.IsKey ? "key" : "value")} must be 4 bytes; topic '{context.Topic}' has one of {(isNull ? "null" : data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))}.");
            }
            return BinaryPrimitives.ReadInt32BigEndian(Contiguous(data, stackalloc byte[4]));
        }
    }

    private sealed class Int64Deserializer : IDeserializer<long>
    {
        public long Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context)
        {
            if (data.Length != 8)
            {
                throw new KafkaSerializationException($"A 64-bit integer {(context.IsKey ? "key" : "value")} must be 8 bytes; topic '{context.Topic}' has one of {(isNull ? "null" : data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))}.");
            }
            return BinaryPrimitives.ReadInt64BigEndian(Contiguous(data, stackalloc byte[8]));
        }
    }

    private sealed class NullDeserializer : IDeserializer<Null?>
    {
        public Null? Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context) => null;
    }

    private sealed class JsonDeserializer<T>(JsonTypeInfo<T> typeInfo) : IDeserializer<T?>
    {
        public T? Deserialize(ReadOnlySequence<byte> data, bool isNull, DeserializationContext context)
        {
            if (isNull)
            {
                return default;
            }
            var reader = new Utf8JsonReader(data);
            return JsonSerializer.Deserialize(ref reader, typeInfo);
        }
    }
}
