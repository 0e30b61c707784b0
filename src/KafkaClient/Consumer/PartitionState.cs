namespace KafkaClient.Consumer;

/// <summary>How a partition's position is still to be found.</summary>
internal enum PendingPosition
{
    /// <summary>The position is known.</summary>
    None = 0,

    /// <summary>Ask the group for its committed offset (falling back to the reset policy).</summary>
    Committed = 1,

    /// <summary>Ask the leader for the log start offset.</summary>
    Earliest = 2,

    /// <summary>Ask the leader for the end offset (the last stable offset under read_committed).</summary>
    Latest = 3,

    /// <summary>Ask the leader for the first offset at or after <see cref="PartitionState.PendingTimestamp"/>.</summary>
    Timestamp = 4,
}

/// <summary>
/// Everything the consumer tracks for one assigned partition. Guarded by the consumer's lock; the consume
/// path reads and advances the position under it too.
/// </summary>
internal sealed class PartitionState
{
    public PartitionState(TopicPartition partition)
    {
        TopicPartition = partition;
    }

    public TopicPartition TopicPartition { get; }

    public string Topic => TopicPartition.Topic;

    public int Partition => TopicPartition.Partition;

    /// <summary>The offset of the next record to hand to the application (-1 while unknown).</summary>
    public long Position { get; set; } = -1;

    /// <summary>The leader epoch of the last record handed out (-1 when unknown).</summary>
    public int PositionEpoch { get; set; } = -1;

    /// <summary>The offset the next fetch asks for: ahead of <see cref="Position"/> by the buffered records.</summary>
    public long FetchPosition { get; set; } = -1;

    /// <summary>Changes on every seek, pause, reset or removal, so records fetched before it are dropped.</summary>
    public int Version
    {
        get => VersionField;
        set => VersionField = value;
    }

    /// <summary>The field behind <see cref="Version"/>, for a lock-free staleness check on the consume path.</summary>
    public int VersionField;

    public bool Paused { get; set; }

    /// <summary>
    /// The leader epoch (from metadata) the position was last checked against, -1 before the first fetch after it moved
    /// (Java's <c>FetchPosition.currentLeader</c>). A different epoch in metadata means the leader changed: the position
    /// is validated (KIP-320) before the partition is fetched again.
    /// </summary>
    public int LeaderEpochSeen { get; set; } = -1;

    /// <summary>The position waits for OffsetForLeaderEpoch to confirm the log was not truncated below it; not fetched meanwhile.</summary>
    public bool AwaitingValidation { get; set; }

    /// <summary>No longer assigned: everything fetched for it is dropped.</summary>
    public bool Removed { get; set; }

    /// <summary>A fatal error was reported for it; no fetching until the application seeks.</summary>
    public bool Failed { get; set; }

    public PendingPosition Pending { get; set; } = PendingPosition.Committed;

    public long PendingTimestamp { get; set; }

    /// <summary>When the position lookup or the next fetch may be tried again after a failure (timestamp ticks; 0 = now).</summary>
    public long RetryAt { get; set; }

    public long HighWatermark { get; set; } = -1;

    public long LastStableOffset { get; set; } = -1;

    public long LogStartOffset { get; set; } = -1;

    /// <summary>Bytes fetched for this partition and not yet handed out.</summary>
    public long BufferedBytes { get; set; }

    /// <summary>A fetch that includes this partition is on the wire.</summary>
    public bool FetchInFlight { get; set; }

    /// <summary>The follower to fetch from (KIP-392), or -1 for the leader.</summary>
    public int PreferredReplica { get; set; } = -1;

    /// <summary>The offset marked processed (what an AfterProcessing or Manual commit writes), or -1.</summary>
    public long StoredOffset { get; set; } = -1;

    public int StoredEpoch { get; set; } = -1;

    /// <summary>
    /// The position when it was last resolved (committed offset or reset) or committed as a position: a position-based
    /// commit (auto-commit, revocation, close) writes only a position that moved since, so a partition nothing was
    /// consumed from never overwrites an offset the application committed explicitly.
    /// </summary>
    public long PositionBaseline { get; set; } = -1;

    /// <summary>The last offset this consumer committed or found committed, or -1.</summary>
    public long CommittedOffset { get; set; } = -1;

    /// <summary>Runner workers processing this partition's records right now (0 or 1).</summary>
    public int Processing { get; set; }

    /// <summary>Set while the partition is being revoked: neither runner workers nor the consume methods hand out further records of it.</summary>
    public bool Revoking { get; set; }

    /// <summary>Completed when <see cref="Processing"/> drops to 0, for a revocation waiting on it.</summary>
    public TaskCompletionSource? IdleWaiter { get; set; }

    /// <summary>
    /// The chunk whose records are being handed out (by the consume path or a runner worker). It publishes its progress
    /// without the lock (<see cref="FetchedChunk.Delivered"/>, <see cref="FetchedChunk.Processed"/>); readers see it
    /// through <see cref="CurrentPosition"/> and <see cref="CurrentStored"/>, and it is folded in when the chunk ends.
    /// </summary>
    public FetchedChunk? ActiveChunk { get; set; }

    private FetchedChunk? LiveChunk => ActiveChunk is { } chunk && chunk.Version == Version ? chunk : null;

    /// <summary>The position including records the active chunk handed out since it started.</summary>
    public long CurrentPosition => LiveChunk is { } c && c.Delivered > Position ? c.Delivered : Position;

    /// <summary>The leader epoch that goes with <see cref="CurrentPosition"/>.</summary>
    public int CurrentPositionEpoch => LiveChunk is { } c && c.Delivered > Position ? c.DeliveredEpoch : PositionEpoch;

    /// <summary>
    /// Whether the records <paramref name="chunk"/>'s handlers finished count as processed: the chunk is live, or stale
    /// (a pause, revocation or position validation bumped the version while a runner handler still held its record)
    /// and the position did not move back past its progress. Applies both to commits made while the stale chunk is
    /// still active (a revocation commit) and when it is finished, so the finished record is not handed to the next
    /// owner again.
    /// </summary>
    public bool CountsAsProcessed(FetchedChunk chunk) => chunk.Version == Version || (chunk.Processed <= Position && !Removed);

    private FetchedChunk? ProcessedChunk => ActiveChunk is { } chunk && CountsAsProcessed(chunk) ? chunk : null;

    /// <summary>The stored (processed) offset including what the active chunk's handler finished.</summary>
    public long CurrentStored => ProcessedChunk is { } c && c.Processed > StoredOffset ? c.Processed : StoredOffset;

    /// <summary>The leader epoch that goes with <see cref="CurrentStored"/>.</summary>
    public int CurrentStoredEpoch => ProcessedChunk is { } c && c.Processed > StoredOffset ? c.ProcessedEpoch : StoredEpoch;

    /// <summary>Moves the active chunk's published progress into <see cref="Position"/> and <see cref="StoredOffset"/>.</summary>
    public void Fold()
    {
        if (LiveChunk is { } chunk)
        {
            FoldFrom(chunk);
        }
    }

    private void FoldFrom(FetchedChunk chunk)
    {
        if (chunk.Delivered > Position)
        {
            Position = chunk.Delivered;
            PositionEpoch = chunk.DeliveredEpoch;
        }
        if (chunk.Processed > StoredOffset)
        {
            StoredOffset = chunk.Processed;
            StoredEpoch = chunk.ProcessedEpoch;
        }
    }

    /// <summary>1 while the consume path hands out a record of this partition (see <see cref="BumpVersionAndFold"/>).</summary>
    public int HandingOut;

    /// <summary>
    /// Makes everything fetched so far stale and folds in what the active chunk handed out: the version is bumped first
    /// (a record not yet handed out then sees it and is dropped), then a record being handed out right now is waited
    /// for, so its progress is folded too.
    /// </summary>
    private void BumpVersionAndFold()
    {
        var live = LiveChunk;
        Interlocked.Increment(ref VersionField);
        if (live is null)
        {
            return;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref HandingOut) != 0)
        {
            spin.SpinOnce();
        }
        FoldFrom(live);
    }

    /// <summary>Drops what was fetched ahead and fetches again from the current position (pause, revocation).</summary>
    public void Invalidate()
    {
        BumpVersionAndFold();
        FetchPosition = Position;
    }

    /// <summary>Moves the position (seek, reset, rewind): everything fetched or being handed out is dropped.</summary>
    public void MoveTo(long position, int leaderEpoch)
    {
        BumpVersionAndFold();
        Position = position;
        PositionEpoch = leaderEpoch;
        FetchPosition = position;
        // A moved position carrying an epoch is validated against the leader before it is fetched (as Java's
        // seekUnvalidated); one without an epoch cannot be.
        LeaderEpochSeen = -1;
        AwaitingValidation = false;
    }

    /// <summary>The end of the log for lag: the last stable offset under read_committed, otherwise the high watermark.</summary>
    public long EndOffset(IsolationLevel isolation) => isolation == IsolationLevel.ReadCommitted && LastStableOffset >= 0 ? LastStableOffset : HighWatermark;
}
