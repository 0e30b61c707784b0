namespace KafkaClient.Perf;

/// <summary>
/// The value every record carries (allocated once, reused) and the key of record i. Values are
/// random upper-case letters, like Kafka's producer-perf-test: compressible, but not trivially.
/// Keys are 8-byte big-endian longs, identical for both clients.
/// </summary>
internal sealed class Payloads
{
    public Payloads(int size, KeyMode keys)
    {
        Value = new byte[size];
        var random = new Random(42);
        for (int i = 0; i < Value.Length; i++)
        {
            Value[i] = (byte)('A' + random.Next(26));
        }
        Keys = keys;
    }

    public byte[] Value { get; }

    public KeyMode Keys { get; }

    public int KeySize => Keys == KeyMode.None ? 0 : sizeof(long);

    public long KeyFor(long i) => Keys switch
    {
        KeyMode.Sequential => i,
        // A fixed mix of i (splitmix64's finalizer): the same "random" keys for every run and client.
        _ => (long)Mix((ulong)i),
    };

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>Delivery progress, shared by the run and the watchdog.</summary>
internal sealed class Progress
{
    private long _completed;
    private long _errors;
    private string? _firstError;
    private long _target = long.MaxValue;
    private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Completed => Volatile.Read(ref _completed);

    public long Errors => Volatile.Read(ref _errors);

    public string? FirstError => Volatile.Read(ref _firstError);

    /// <summary>Starts waiting for <paramref name="target"/> completions in total.</summary>
    public Task Expect(long target)
    {
        _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _target, target);
        if (Completed >= target)
        {
            _reached.TrySetResult();
        }
        return _reached.Task;
    }

    public void Success()
    {
        if (Interlocked.Increment(ref _completed) == Volatile.Read(ref _target))
        {
            _reached.TrySetResult();
        }
    }

    public void Failure(string message)
    {
        Interlocked.Increment(ref _errors);
        Interlocked.CompareExchange(ref _firstError, message, null);
        Success();
    }
}
