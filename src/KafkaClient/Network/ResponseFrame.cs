using System.Buffers;

namespace KafkaClient.Network;

/// <summary>
/// A response frame held in a pooled array instead of a fresh one, for responses whose bytes outlive their decoding
/// (a Fetch response's record sets become the consumer's buffered records), rented from <see cref="Pool"/>. Reference-counted: every holder calls
/// <see cref="AddReference"/> and later <see cref="Release"/>; the last release returns the array to the pool, after
/// which every slice of it is invalid.
/// </summary>
internal sealed class ResponseFrame
{
    /// <summary>
    /// The pool frames come from: a bucketed pool kept apart from <c>ArrayPool.Shared</c>, whose per-thread caching and
    /// trimming kept allocating fresh multi-megabyte arrays for Fetch responses (rented on the connection's read loop,
    /// returned on the consumer's thread). At most sixteen arrays per size class are kept (a consumer holds about one frame per buffered fetch).
    /// </summary>
    public static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 256 * 1024 * 1024, maxArraysPerBucket: 16);

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
            Pool.Return(array);
        }
    }
}
