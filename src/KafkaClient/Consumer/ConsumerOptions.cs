using KafkaClient.Consumer.Assignors;

namespace KafkaClient.Consumer;

/// <summary>
/// Where a consumer starts in a partition that has no committed offset, or whose offset no longer exists (Java:
/// <c>auto.offset.reset</c>). A position found beyond a truncated log after a leader change (KIP-320) is handled as in
/// Java: <see cref="Latest"/> and <see cref="Earliest"/> both move to the first offset known to diverge (not to the end
/// or the start of the log); <see cref="Error"/> raises <see cref="Errors.LogTruncationException"/>.
/// </summary>
public enum AutoOffsetReset
{
    /// <summary>Start after the last record: only new records are read (the Java default).</summary>
    Latest = 0,

    /// <summary>Start at the oldest record still in the log.</summary>
    Earliest = 1,

    /// <summary>
    /// Fail: consuming raises <see cref="Errors.KafkaException"/> with <see cref="Errors.ErrorCode.OffsetOutOfRange"/> (a
    /// <see cref="Errors.LogTruncationException"/> when the log was truncated below the position), once, and the partition
    /// is not fetched until it is sought (Java: <c>none</c>).
    /// </summary>
    Error = 2,
}

/// <summary>Which records of transactional producers a consumer reads (Java: <c>isolation.level</c>).</summary>
public enum IsolationLevel
{
    /// <summary>Every record, including those of open and aborted transactions (the Java default).</summary>
    ReadUncommitted = 0,

    /// <summary>Only records of committed transactions (and non-transactional ones); reading stops at the last stable offset.</summary>
    ReadCommitted = 1,
}

/// <summary>When a group consumer commits its offsets.</summary>
public enum CommitStrategy
{
    /// <summary>
    /// Every <see cref="ConsumerOptions.AutoCommitInterval"/>, commit the position after the last record
    /// handed to the application (Java: <c>enable.auto.commit=true</c>, the default). A crash may skip
    /// records that were handed out but not yet processed (at-most-once for those).
    /// </summary>
    AutoCommitDelivered = 0,

    /// <summary>
    /// Every <see cref="ConsumerOptions.AutoCommitInterval"/>, commit only what was marked processed: by
    /// the runner once a handler returns, or by <see cref="IConsumer{TKey, TValue}.StoreOffset(TopicPartitionOffset)"/>
    /// (Confluent: <c>enable.auto.offset.store=false</c>). At-least-once: a crash repeats records whose
    /// processing had not finished, never skips them.
    /// </summary>
    AfterProcessing = 1,

    /// <summary>
    /// Nothing is committed on a timer: call <see cref="IConsumer{TKey, TValue}.CommitAsync(CancellationToken)"/>
    /// (Java: <c>enable.auto.commit=false</c>), which commits the current positions. Offsets stored with
    /// <c>StoreOffset</c> are committed before partitions are revoked and on close; positions are not.
    /// </summary>
    Manual = 2,
}

/// <summary>
/// Consumer settings: the connection settings of <see cref="KafkaClientOptions"/> plus group membership,
/// commits and fetching. Defaults follow the Java client 4.x where one exists.
/// </summary>
public sealed record ConsumerOptions : KafkaClientOptions
{
    /// <summary>The consumer group (Java: <c>group.id</c>). Required to <c>Subscribe</c> and to commit; null for a consumer that only uses <c>Assign</c>.</summary>
    public string? GroupId { get; init; }

    /// <summary>A stable identity for this member across restarts (Java: <c>group.instance.id</c>, KIP-345): a restart within the session timeout causes no rebalance. Default null (dynamic member).</summary>
    public string? GroupInstanceId { get; init; }

    /// <summary>How long the coordinator waits without a heartbeat before it removes the member (Java: <c>session.timeout.ms</c>). Default 45 s.</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>How often heartbeats are sent (Java: <c>heartbeat.interval.ms</c>); on their own schedule, never delayed by processing. Default 3 s.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long the coordinator waits for every member to rejoin during a rebalance, and so how long this
    /// member may take to finish processing and commit revoked partitions (Java: <c>max.poll.interval.ms</c>,
    /// sent as the rebalance timeout). Default 5 min.
    /// </summary>
    public TimeSpan RebalanceTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The assignors this member offers, preferred first (Java: <c>partition.assignment.strategy</c>). The
    /// group uses the first one every member supports. Default: range, then cooperative-sticky, as in Java 3.0+.
    /// </summary>
    public IReadOnlyList<IPartitionAssignor> PartitionAssignors { get; init; } = [new RangeAssignor(), new CooperativeStickyAssignor()];

    /// <summary>When offsets are committed. Default <see cref="CommitStrategy.AutoCommitDelivered"/> (Java's <c>enable.auto.commit=true</c>).</summary>
    public CommitStrategy CommitStrategy { get; init; } = CommitStrategy.AutoCommitDelivered;

    /// <summary>How often automatic strategies commit (Java: <c>auto.commit.interval.ms</c>). Default 5 s.</summary>
    public TimeSpan AutoCommitInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where to start without a committed offset (Java: <c>auto.offset.reset</c>). Default <see cref="AutoOffsetReset.Latest"/>.</summary>
    public AutoOffsetReset AutoOffsetReset { get; init; } = AutoOffsetReset.Latest;

    /// <summary>Which transactional records are read (Java: <c>isolation.level</c>). Default <see cref="IsolationLevel.ReadUncommitted"/>.</summary>
    public IsolationLevel IsolationLevel { get; init; } = IsolationLevel.ReadUncommitted;

    /// <summary>The least data a broker returns for a fetch before <see cref="FetchMaxWait"/> passes (Java: <c>fetch.min.bytes</c>). Default 1 byte.</summary>
    public int FetchMinBytes { get; init; } = 1;

    /// <summary>The most data one fetch response carries (Java: <c>fetch.max.bytes</c>); a larger first batch still comes whole. Default 50 MiB.</summary>
    public int FetchMaxBytes { get; init; } = 50 * 1024 * 1024;

    /// <summary>The most data per partition in one fetch (Java: <c>max.partition.fetch.bytes</c>); a larger first batch still comes whole. Default 1 MiB.</summary>
    public int MaxPartitionFetchBytes { get; init; } = 1024 * 1024;

    /// <summary>How long a broker may hold a fetch waiting for <see cref="FetchMinBytes"/> (Java: <c>fetch.max.wait.ms</c>). Default 500 ms.</summary>
    public TimeSpan FetchMaxWait { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Bytes of fetched records held in memory ahead of the application. When reached, fetching pauses
    /// until records are consumed (backpressure; nothing is dropped). Each partition also stops at
    /// <see cref="MaxPartitionFetchBytes"/> buffered. Default 64 MiB (librdkafka: <c>queued.max.messages.kbytes</c>).
    /// </summary>
    public long MaxBufferedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Whether incremental fetch sessions (KIP-227) are used with brokers that support them, so a fetch names only partitions that changed. Default true.</summary>
    public bool EnableFetchSessions { get; init; } = true;

    /// <summary>This consumer's rack (Java: <c>client.rack</c>): with a broker-side replica selector, fetches go to a replica in the same rack (KIP-392). Default null.</summary>
    public string? ClientRack { get; init; }

    /// <summary>Whether each record batch's CRC-32C is verified (Java: <c>check.crcs</c>). Default true.</summary>
    public bool CheckCrcs { get; init; } = true;

    /// <summary>How long <c>CloseAsync</c>/<c>DisposeAsync</c> may take to commit and leave the group before giving up (Java: the <c>close(Duration)</c> default). Default 30 s.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Called, and awaited, on group events: joined, rebalancing, partitions assigned, revoked (after their
    /// offsets are committed) and lost. Runs on the membership task; a slow handler delays the rebalance,
    /// never the heartbeats. An exception is logged and does not stop the consumer. Default null.
    /// </summary>
    public Func<RebalanceEvent, CancellationToken, ValueTask>? OnRebalance { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (GroupId is { Length: 0 })
        {
            throw new ArgumentException("GroupId must not be empty (null means no group).", nameof(GroupId));
        }
        if (GroupInstanceId is { Length: 0 })
        {
            throw new ArgumentException("GroupInstanceId must not be empty (null means a dynamic member).", nameof(GroupInstanceId));
        }
        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatInterval >= SessionTimeout)
        {
            throw new ArgumentException("HeartbeatInterval must be positive and shorter than SessionTimeout (Java requires the same).", nameof(HeartbeatInterval));
        }
        if (RebalanceTimeout <= TimeSpan.Zero || AutoCommitInterval <= TimeSpan.Zero || CloseTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException("RebalanceTimeout and AutoCommitInterval must be positive, CloseTimeout not negative.");
        }
        if (PartitionAssignors is null || PartitionAssignors.Count == 0)
        {
            throw new ArgumentException("At least one partition assignor is required.", nameof(PartitionAssignors));
        }
        if (FetchMinBytes < 0 || FetchMaxBytes < 1 || MaxPartitionFetchBytes < 1 || FetchMaxWait < TimeSpan.Zero)
        {
            throw new ArgumentException("FetchMinBytes must not be negative; FetchMaxBytes and MaxPartitionFetchBytes must be positive; FetchMaxWait not negative.");
        }
        if (MaxBufferedBytes < 1)
        {
            throw new ArgumentException("MaxBufferedBytes must be positive.", nameof(MaxBufferedBytes));
        }
    }
}
