using System.Text.RegularExpressions;

namespace KafkaClient.Consumer;

/// <summary>
/// Reads records from Kafka, alone (<see cref="Assign(IEnumerable{TopicPartition})"/>) or as a member of a consumer group
/// (<see cref="Subscribe(IEnumerable{string})"/>). Fetching, heartbeats and commits run in the background;
/// consuming never blocks a thread. The consume methods and the runner are for one caller at a time;
/// the other members (seek, pause, commit, position, ...) are thread-safe.
/// </summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public interface IConsumer<TKey, TValue> : IAsyncDisposable
{
    /// <summary>This member's id in its group, or empty before it joined (or without a group).</summary>
    string MemberId { get; }

    /// <summary>The partitions currently assigned to this consumer.</summary>
    IReadOnlyList<TopicPartition> Assignment { get; }

    /// <summary>The topics subscribed to (for a pattern subscription: the topics matching it now).</summary>
    IReadOnlyList<string> Subscription { get; }

    /// <summary>What a transactional producer needs to commit this member's offsets in its transaction.</summary>
    ConsumerGroupMetadata GroupMetadata { get; }

    /// <summary>Joins the group (<see cref="ConsumerOptions.GroupId"/>) to consume <paramref name="topics"/>, replacing any earlier subscription.</summary>
    void Subscribe(IEnumerable<string> topics);

    /// <summary>Joins the group to consume every topic whose whole name matches <paramref name="pattern"/>; new matching topics are picked up when metadata is refreshed (<see cref="KafkaClientOptions.MetadataMaxAge"/>).</summary>
    void Subscribe(Regex pattern);

    /// <summary>Gives up the subscription: revokes every partition (committing first) and leaves the group.</summary>
    void Unsubscribe();

    /// <summary>Consumes exactly <paramref name="partitions"/> without group management, replacing any earlier assignment; each starts at its given offset (<see cref="Offset"/> constants allowed).</summary>
    void Assign(IEnumerable<TopicPartitionOffset> partitions);

    /// <summary>Consumes exactly <paramref name="partitions"/> without group management, starting at the committed offset or per <see cref="ConsumerOptions.AutoOffsetReset"/>.</summary>
    void Assign(IEnumerable<TopicPartition> partitions);

    /// <summary>Adds <paramref name="partitions"/> to a manual assignment.</summary>
    void IncrementalAssign(IEnumerable<TopicPartitionOffset> partitions);

    /// <summary>Removes <paramref name="partitions"/> from a manual assignment.</summary>
    void IncrementalUnassign(IEnumerable<TopicPartition> partitions);

    /// <summary>Removes every manually assigned partition.</summary>
    void Unassign();

    /// <summary>Returns the next record, waiting (asynchronously) until one arrives.</summary>
    /// <exception cref="Errors.KafkaException">A fatal consumer error: offset out of range with <see cref="AutoOffsetReset.Error"/>, authorization, a corrupt batch, or a record that could not be deserialized (<see cref="Errors.KafkaSerializationException"/>).</exception>
    ValueTask<ConsumeResult<TKey, TValue>> ConsumeAsync(CancellationToken cancellationToken = default);

    /// <summary>Every record, as they arrive, until <paramref name="cancellationToken"/> is cancelled: <c>await foreach (var r in consumer.ConsumeAllAsync(ct))</c>.</summary>
    IAsyncEnumerable<ConsumeResult<TKey, TValue>> ConsumeAllAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns up to <paramref name="maxRecords"/> records: whatever is buffered at once, otherwise waits up to
    /// <paramref name="maxWait"/> for the first one (an empty list when none came).
    /// </summary>
    ValueTask<IReadOnlyList<ConsumeResult<TKey, TValue>>> ConsumeBatchAsync(int maxRecords, TimeSpan maxWait, CancellationToken cancellationToken = default);

    /// <summary>
    /// Processes records with <paramref name="handler"/> until cancelled: partitions are processed concurrently
    /// (up to <see cref="RunnerOptions.MaxConcurrentPartitions"/> at once) while each partition's records stay in order.
    /// A record counts as processed when its handler returns (see <see cref="CommitStrategy.AfterProcessing"/>).
    /// </summary>
    Task RunAsync(Func<ConsumeResult<TKey, TValue>, CancellationToken, ValueTask> handler, RunnerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Like <see cref="RunAsync"/> with a handler receiving one partition's records at a time.</summary>
    Task RunBatchesAsync(Func<ConsumeBatch<TKey, TValue>, CancellationToken, ValueTask> handler, RunnerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Moves the position of an assigned partition: the next record consumed from it is at <paramref name="position"/>'s offset (<see cref="Offset"/> constants allowed).</summary>
    void Seek(TopicPartitionOffset position);

    /// <summary>Moves the positions of <paramref name="partitions"/> to the first record at or after <paramref name="timestamp"/> (the end when there is none).</summary>
    Task SeekToTimestampAsync(IEnumerable<TopicPartition> partitions, DateTimeOffset timestamp, CancellationToken cancellationToken = default);

    /// <summary>Stops fetching <paramref name="partitions"/> (records already buffered for them are dropped and fetched again on resume); the group membership is kept.</summary>
    void Pause(IEnumerable<TopicPartition> partitions);

    /// <summary>Resumes fetching paused <paramref name="partitions"/> from their positions.</summary>
    void Resume(IEnumerable<TopicPartition> partitions);

    /// <summary>The paused partitions.</summary>
    IReadOnlyList<TopicPartition> Paused { get; }

    /// <summary>The offset of the next record to be consumed from <paramref name="partition"/>, or null while it is not known yet.</summary>
    long? Position(TopicPartition partition);

    /// <summary>The high watermark, last stable offset and log start offset last reported for <paramref name="partition"/> by a fetch (-1 when none has been made).</summary>
    WatermarkOffsets GetWatermarkOffsets(TopicPartition partition);

    /// <summary>Asks the partition's leader for its earliest and latest offsets.</summary>
    Task<WatermarkOffsets> QueryWatermarkOffsetsAsync(TopicPartition partition, CancellationToken cancellationToken = default);

    /// <summary>Records not yet consumed in <paramref name="partition"/> (end offset minus position, by the last fetch), or null when unknown. The end offset is the last stable offset under read_committed.</summary>
    long? Lag(TopicPartition partition);

    /// <summary>The group's committed offsets for <paramref name="partitions"/> (offset -1: none committed).</summary>
    Task<IReadOnlyList<TopicPartitionOffset>> CommittedAsync(IEnumerable<TopicPartition> partitions, CancellationToken cancellationToken = default);

    /// <summary>Marks a record processed: its offset + 1 is what the next commit of its partition writes.</summary>
    void StoreOffset(TopicPartitionOffset nextOffset);

    /// <summary>Marks <paramref name="record"/> processed.</summary>
    void StoreOffset(ConsumeResult<TKey, TValue> record);

    /// <summary>
    /// Commits now: under <see cref="CommitStrategy.AfterProcessing"/> the stored (processed) offsets, otherwise the current
    /// positions (as Java's <c>commitSync()</c>). Only offsets that moved since the last commit are sent. Returns what was committed.
    /// </summary>
    Task<IReadOnlyList<TopicPartitionOffset>> CommitAsync(CancellationToken cancellationToken = default);

    /// <summary>Commits exactly <paramref name="offsets"/> (each the offset of the next record to read).</summary>
    Task CommitAsync(IEnumerable<TopicPartitionOffset> offsets, CancellationToken cancellationToken = default);

    /// <summary>
    /// Commits (per the strategy), revokes, leaves the group (static members stay, as in Java) and stops
    /// fetching, bounded by <see cref="ConsumerOptions.CloseTimeout"/> and <paramref name="cancellationToken"/>:
    /// it never hangs, even when the coordinator is gone.
    /// </summary>
    Task CloseAsync(CancellationToken cancellationToken = default);
}

/// <summary>A partition's offsets as a broker reports them.</summary>
/// <param name="LogStartOffset">The first offset still in the log (-1 when unknown).</param>
/// <param name="HighWatermark">The offset after the last replicated record (-1 when unknown).</param>
/// <param name="LastStableOffset">The offset of the first record of the oldest open transaction, or the high watermark when none is open (-1 when unknown).</param>
public readonly record struct WatermarkOffsets(long LogStartOffset, long HighWatermark, long LastStableOffset);
