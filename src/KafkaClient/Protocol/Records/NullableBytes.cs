namespace KafkaClient.Protocol.Records;

/// <summary>
/// A record key or value to write: a span of bytes, or null. Kafka tells a null key or value
/// (length -1; a null value is a tombstone on compacted topics) from an empty one (length 0),
/// which a bare span cannot. Converts implicitly from a span and from a possibly-null array, so
/// call sites read <c>writer.Append(ts, key: null, value: bytes)</c>.
/// </summary>
public readonly ref struct NullableBytes
{
    private NullableBytes(ReadOnlySpan<byte> span, bool isNull)
    {
        Span = span;
        IsNull = isNull;
    }

    /// <summary>The null key or value.</summary>
    public static NullableBytes Null => new(default, isNull: true);

    /// <summary>The bytes; empty when <see cref="IsNull"/>.</summary>
    public ReadOnlySpan<byte> Span { get; }

    /// <summary>True for null (as opposed to empty).</summary>
    public bool IsNull { get; }

    /// <summary>Length as written to the wire: -1 for null.</summary>
    public int WireLength => IsNull ? -1 : Span.Length;

    /// <summary>Wraps bytes (never null, possibly empty).</summary>
    public static implicit operator NullableBytes(ReadOnlySpan<byte> bytes) => new(bytes, isNull: false);

    /// <summary>Wraps bytes (never null, possibly empty).</summary>
    public static implicit operator NullableBytes(Span<byte> bytes) => new(bytes, isNull: false);

    /// <summary>Wraps an array; a null array is the null key or value.</summary>
    public static implicit operator NullableBytes(byte[]? bytes) => new(bytes, isNull: bytes is null);

    /// <summary>Wraps memory (never null, possibly empty).</summary>
    public static implicit operator NullableBytes(ReadOnlyMemory<byte> bytes) => new(bytes.Span, isNull: false);
}
