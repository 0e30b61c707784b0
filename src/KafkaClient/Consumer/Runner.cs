namespace KafkaClient.Consumer;

/// <summary>How <see cref="IConsumer{TKey, TValue}.RunAsync"/> and <see cref="IConsumer{TKey, TValue}.RunBatchesAsync"/> process records.</summary>
public sealed record RunnerOptions
{
    /// <summary>
    /// How many partitions are processed at the same time (kafkajs: <c>partitionsConsumedConcurrently</c>). Records of one
    /// partition are always processed one after another, in order. Default 1.
    /// </summary>
    public int MaxConcurrentPartitions { get; init; } = 1;

    /// <summary>The most records handed to one batch handler call (Java: <c>max.poll.records</c>). Default 500.</summary>
    public int MaxBatchRecords { get; init; } = 500;

    /// <summary>
    /// Whether a batch counts as processed entirely when its handler returns (kafkajs: <c>eachBatchAutoResolve</c>). When false,
    /// only the offsets passed to <see cref="ConsumeBatch{TKey, TValue}.ResolveOffset"/> count. Default true. A batch that went
    /// stale meanwhile (<see cref="ConsumeBatch{TKey, TValue}.IsStale"/>) is not resolved automatically, since its handler may
    /// have stopped early: after a pause its unresolved records are handed out again on resume. A handler that pauses its own
    /// partition after processing the batch should resolve it first.
    /// </summary>
    public bool AutoResolveBatch { get; init; } = true;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxConcurrentPartitions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchRecords);
    }
}

/// <summary>Consecutive records of one partition handed to a batch handler, with the controls kafkajs's <c>eachBatch</c> offers.</summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public sealed class ConsumeBatch<TKey, TValue>
{
    private readonly Func<bool> _isStale;
    private readonly Func<bool> _isRunning;
    private readonly Action<TopicPartitionOffset> _store;
    private readonly Func<CancellationToken, Task> _heartbeat;

    internal ConsumeBatch(TopicPartition partition, IReadOnlyList<ConsumeResult<TKey, TValue>> records, long highWatermark,
        Func<bool> isStale, Func<bool> isRunning, Action<TopicPartitionOffset> store, Func<CancellationToken, Task> heartbeat)
    {
        Partition = partition;
        Records = records;
        HighWatermark = highWatermark;
        _isStale = isStale;
        _isRunning = isRunning;
        _store = store;
        _heartbeat = heartbeat;
    }

    /// <summary>The partition the records come from.</summary>
    public TopicPartition Partition { get; }

    /// <summary>The records, in offset order. Zero-copy keys and values are valid until the handler returns.</summary>
    public IReadOnlyList<ConsumeResult<TKey, TValue>> Records { get; }

    /// <summary>The partition's high watermark when the records were fetched.</summary>
    public long HighWatermark { get; }

    /// <summary>The offset of the last record passed to <see cref="ResolveOffset"/>, or null.</summary>
    public long? LastResolvedOffset { get; private set; }

    /// <summary>Whether the runner is still running (false once it is being stopped).</summary>
    public bool IsRunning => _isRunning();

    /// <summary>
    /// Whether these records are stale: the partition was revoked, sought or paused since they were fetched. A handler should
    /// stop early when it is; what it resolved still counts (unless the partition was revoked).
    /// </summary>
    public bool IsStale => _isStale();

    /// <summary>Marks the record at <paramref name="offset"/> (and those before it) processed.</summary>
    public void ResolveOffset(long offset)
    {
        _store(new TopicPartitionOffset(Partition, offset + 1));
        LastResolvedOffset = offset;
    }

    /// <summary>Sends a heartbeat now and waits for the coordinator's answer (heartbeats also run on their own schedule, so this is only needed to learn of a rebalance sooner).</summary>
    public Task HeartbeatAsync(CancellationToken cancellationToken = default) => _heartbeat(cancellationToken);
}
