using System.Buffers;

namespace KafkaClient.Network;

/// <summary>
/// A response frame held in a pooled array instead of a fresh one, for responses whose bytes outlive their decoding
/// (a Fetch response's record sets become the consumer's buffered records). Reference-counted: every holder calls
/// <see cref="AddReference"/> and later <see cref="Release"/>; the last release returns the array to the pool, after
/// which every slice of it is invalid.
/// </summary>
internal sealed class ResponseFrame
{
    private byte[]? _array;
    private int _references = 1;

    public ResponseFrame(byte[] array)
    {
        _array = array;
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0 && Interlocked.Exchange(ref _array, null) is { } array)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
