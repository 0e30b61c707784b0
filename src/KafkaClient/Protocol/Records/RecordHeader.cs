namespace KafkaClient.Protocol.Records;

/// <summary>
/// A header to write with a record: a string key (encoded as UTF-8 on the wire; never null) and a
/// value that may be null.
/// </summary>
public readonly struct RecordHeader
{
    /// <summary>A header with a non-null value.</summary>
    public RecordHeader(string key, ReadOnlyMemory<byte> value)
    {
        ArgumentNullException.ThrowIfNull(key);
        Key = key;
        Value = value;
        IsValueNull = false;
    }

    /// <summary>A header whose value is null when <paramref name="value"/> is null.</summary>
    public RecordHeader(string key, byte[]? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        Key = key;
        Value = value;
        IsValueNull = value is null;
    }

    /// <summary>The header key.</summary>
    public string Key { get; }

    /// <summary>The header value; empty when <see cref="IsValueNull"/>.</summary>
    public ReadOnlyMemory<byte> Value { get; }

    /// <summary>True when the value is null rather than empty.</summary>
    public bool IsValueNull { get; }
}
