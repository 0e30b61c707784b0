using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using KafkaClient.Cluster;
using KafkaClient.Diagnostics;
using KafkaClient.Errors;
using KafkaClient.Protocol.Records;
using KafkaClient.Serialization;
using Microsoft.Extensions.Logging;

namespace KafkaClient.Consumer;

/// <summary>
/// The KafkaClient consumer: fetches in the background (one fetch in flight per broker, incremental fetch
/// sessions, bounded prefetch), keeps group membership on its own task (heartbeats never wait for
/// processing), and hands records out through async APIs that allocate nothing per record when reading raw bytes.
/// </summary>
/// <typeparam name="TKey">Key type.</typeparam>
/// <typeparam name="TValue">Value type.</typeparam>
public sealed partial class KafkaConsumer<TKey, TValue> : IConsumer<TKey, TValue>
{
    private readonly ConsumerOptions _options;
    private readonly IDeserializer<TKey> _keyDeserializer;
    private readonly IDeserializer<TValue> _valueDeserializer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Task<KafkaProtocolClient> _clientTask;
    private readonly object _sync = new();
    private readonly Dictionary<TopicPartition, PartitionState> _partitions = [];
    private readonly Channel<FetchedChunk> _ready = Channel.CreateUnbounded<FetchedChunk>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly List<FetchedChunk> _finished = [];
    private readonly RecordBatchReader _reader;
    private readonly Stack<PooledBufferWriter> _bufferPool = new();
    private readonly AsyncSignal _fetchWake;
    private readonly CancellationTokenSource _stopping = new();
    private readonly PartitionState _wakeState = new(new TopicPartition("", -1)) { Removed = true };
    private readonly Task _fetchLoop;
    private FetchedChunk? _current;
    private long _bufferedBytes;
    private AssignmentMode _mode;
    private IReadOnlyList<string> _topics = [];
    private Regex? _pattern;
    private volatile KafkaException? _fatal;
    private int _closed;

    private enum AssignmentMode
    {
        None = 0,
        Manual = 1,
        Subscribed = 2,
    }

    /// <summary>Creates a consumer. It connects in the background; nothing is fetched until <c>Subscribe</c> or <c>Assign</c>.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="keyDeserializer">Key deserializer, or null for the built-in one of <typeparamref name="TKey"/>.</param>
    /// <param name="valueDeserializer">Value deserializer, or null for the built-in one of <typeparamref name="TValue"/>.</param>
    /// <exception cref="ArgumentException">An option is invalid, or there is no built-in deserializer for a type.</exception>
    public KafkaConsumer(ConsumerOptions options, IDeserializer<TKey>? keyDeserializer = null, IDeserializer<TValue>? valueDeserializer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _keyDeserializer = keyDeserializer ?? Deserializers.Default<TKey>()
            ?? throw new ArgumentException($"No built-in deserializer for {typeof(TKey).Name}; pass a keyDeserializer.", nameof(keyDeserializer));
        _valueDeserializer = valueDeserializer ?? Deserializers.Default<TValue>()
            ?? throw new ArgumentException($"No built-in deserializer for {typeof(TValue).Name}; pass a valueDeserializer.", nameof(valueDeserializer));
        _time = options.TimeProvider;
        _logger = options.LoggerFactory.CreateLogger("KafkaClient.Consumer");
        _reader = new RecordBatchReader { ValidateCrc = options.CheckCrcs };
        _fetchWake = new AsyncSignal(_time);
        _groupWake = new AsyncSignal(_time);
        _heartbeatWake = new AsyncSignal(_time);
        _groupStopping = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        _clientTask = KafkaProtocolClient.ConnectAsync(options, _stopping.Token);
        _clientTask.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        ConsumerMetrics.RegisterLag(this, ObserveLag);
        _fetchLoop = Task.Run(FetchLoopAsync);
        _groupLoop = Task.Run(GroupLoopAsync);
        _heartbeatLoop = Task.Run(HeartbeatLoopAsync);
    }

    /// <inheritdoc/>
    public IReadOnlyList<TopicPartition> Assignment
    {
        get
        {
            lock (_sync)
            {
                return [.. _partitions.Keys];
            }
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> Subscription
    {
        get
        {
            lock (_sync)
            {
                return _topics;
            }
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<TopicPartition> Paused
    {
        get
        {
            lock (_sync)
            {
                return [.. _partitions.Values.Where(p => p.Paused).Select(p => p.TopicPartition)];
            }
        }
    }

    /// <inheritdoc/>
    public void Subscribe(IEnumerable<string> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        var list = topics.Distinct(StringComparer.Ordinal).ToList();
        if (list.Count == 0 || list.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("Subscribe needs at least one topic name, none empty.", nameof(topics));
        }
        SubscribeCore(list, null);
    }

    /// <inheritdoc/>
    public void Subscribe(Regex pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        // The whole topic name must match (as Java's Pattern.matcher(topic).matches()), not just a part of it.
        SubscribeCore([], new Regex($@"\A(?:{pattern})\z", pattern.Options, pattern.MatchTimeout));
    }

    private void SubscribeCore(IReadOnlyList<string> topics, Regex? pattern)
    {
        ThrowIfClosed();
        if (_options.GroupId is null)
        {
            throw new InvalidOperationException("Subscribe needs ConsumerOptions.GroupId; use Assign to consume without a group.");
        }
        lock (_sync)
        {
            if (_mode == AssignmentMode.Manual)
            {
                throw new InvalidOperationException("This consumer uses Assign; call Unassign before Subscribe.");
            }
            _mode = AssignmentMode.Subscribed;
            _topics = topics;
            _pattern = pattern;
            _subscriptionChanged = true;
            _rejoinNeeded = true;
        }
        _groupWake.Set();
    }

    /// <inheritdoc/>
    public void Unsubscribe()
    {
        lock (_sync)
        {
            if (_mode != AssignmentMode.Subscribed)
            {
                return;
            }
            _topics = [];
            _pattern = null;
            _subscriptionChanged = true;
        }
        _groupWake.Set();
    }

    /// <inheritdoc/>
    public void Assign(IEnumerable<TopicPartitionOffset> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var list = partitions.ToList();
        lock (_sync)
        {
            EnterManualMode();
            var keep = list.Select(p => p.TopicPartition).ToHashSet();
            foreach (var tp in _partitions.Keys.Where(tp => !keep.Contains(tp)).ToList())
            {
                RemovePartitionLocked(tp);
            }
            foreach (var p in list)
            {
                AddOrSeekLocked(p);
            }
        }
        _fetchWake.Set();
    }

    /// <inheritdoc/>
    public void Assign(IEnumerable<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Stored)));
    }

    /// <inheritdoc/>
    public void IncrementalAssign(IEnumerable<TopicPartitionOffset> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        lock (_sync)
        {
            EnterManualMode();
            foreach (var p in partitions)
            {
                AddOrSeekLocked(p);
            }
        }
        _fetchWake.Set();
    }

    /// <inheritdoc/>
    public void IncrementalUnassign(IEnumerable<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        lock (_sync)
        {
            foreach (var tp in partitions)
            {
                RemovePartitionLocked(tp);
            }
        }
        _fetchWake.Set();
    }

    /// <inheritdoc/>
    public void Unassign()
    {
        lock (_sync)
        {
            if (_mode == AssignmentMode.Subscribed)
            {
                throw new InvalidOperationException("This consumer is subscribed; use Unsubscribe.");
            }
            foreach (var tp in _partitions.Keys.ToList())
            {
                RemovePartitionLocked(tp);
            }
            _mode = AssignmentMode.None;
        }
        _fetchWake.Set();
    }

    private void EnterManualMode()
    {
        ThrowIfClosed();
        if (_mode == AssignmentMode.Subscribed)
        {
            throw new InvalidOperationException("This consumer is subscribed to topics; its partitions come from the group. Create another consumer to Assign partitions.");
        }
        _mode = AssignmentMode.Manual;
    }

    private void AddOrSeekLocked(TopicPartitionOffset position)
    {
        if (!_partitions.TryGetValue(position.TopicPartition, out var state))
        {
            ArgumentException.ThrowIfNullOrEmpty(position.TopicPartition.Topic);
            ArgumentOutOfRangeException.ThrowIfNegative(position.TopicPartition.Partition);
            state = new PartitionState(position.TopicPartition);
            _partitions.Add(position.TopicPartition, state);
        }
        SetPositionLocked(state, position.Offset, position.LeaderEpoch);
    }

    private void SetPositionLocked(PartitionState state, long offset, int leaderEpoch)
    {
        state.Failed = false;
        state.RetryAt = 0;
        if (offset >= 0)
        {
            state.MoveTo(offset, leaderEpoch);
            state.Pending = PendingPosition.None;
        }
        else
        {
            state.MoveTo(-1, -1);
            state.Pending = offset switch
            {
                Offset.Beginning => PendingPosition.Earliest,
                Offset.End => PendingPosition.Latest,
                Offset.Stored => PendingPosition.Committed,
                _ => throw new ArgumentOutOfRangeException(nameof(offset), offset, "An offset is a record offset (>= 0) or one of the Offset constants."),
            };
        }
    }

    private void RemovePartitionLocked(TopicPartition tp)
    {
        if (_partitions.Remove(tp, out var state))
        {
            state.Removed = true;
            state.Version++;
        }
    }

    /// <inheritdoc/>
    public void Seek(TopicPartitionOffset position)
    {
        lock (_sync)
        {
            if (!_partitions.TryGetValue(position.TopicPartition, out var state))
            {
                throw new InvalidOperationException($"{position.TopicPartition} is not assigned to this consumer; Seek only moves assigned partitions.");
            }
            SetPositionLocked(state, position.Offset, position.LeaderEpoch);
        }
        _fetchWake.Set();
    }

    /// <inheritdoc/>
    public async Task SeekToTimestampAsync(IEnumerable<TopicPartition> partitions, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var list = partitions.ToList();
        var offsets = await ListOffsetsAsync(list, timestamp.ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
        lock (_sync)
        {
            foreach (var tp in list)
            {
                if (_partitions.TryGetValue(tp, out var state))
                {
                    long offset = offsets.TryGetValue(tp, out var found) && found.Offset >= 0 ? found.Offset : Offset.End;
                    SetPositionLocked(state, offset, -1);
                }
            }
        }
        _fetchWake.Set();
    }

    /// <inheritdoc/>
    public void Pause(IEnumerable<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        lock (_sync)
        {
            foreach (var tp in partitions)
            {
                if (_partitions.TryGetValue(tp, out var state) && !state.Paused)
                {
                    state.Paused = true;
                    state.Invalidate();
                }
            }
        }
        _fetchWake.Set();
    }

    /// <inheritdoc/>
    public void Resume(IEnumerable<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        lock (_sync)
        {
            foreach (var tp in partitions)
            {
                if (_partitions.TryGetValue(tp, out var state))
                {
                    state.Paused = false;
                }
            }
        }
        _fetchWake.Set();
    }

    /// <inheritdoc/>
    public long? Position(TopicPartition partition)
    {
        lock (_sync)
        {
            return _partitions.TryGetValue(partition, out var state) && state.CurrentPosition >= 0 ? state.CurrentPosition : null;
        }
    }

    /// <inheritdoc/>
    public WatermarkOffsets GetWatermarkOffsets(TopicPartition partition)
    {
        lock (_sync)
        {
            return _partitions.TryGetValue(partition, out var s) ? new WatermarkOffsets(s.LogStartOffset, s.HighWatermark, s.LastStableOffset) : new WatermarkOffsets(-1, -1, -1);
        }
    }

    /// <inheritdoc/>
    public async Task<WatermarkOffsets> QueryWatermarkOffsetsAsync(TopicPartition partition, CancellationToken cancellationToken = default)
    {
        var earliest = await ListOffsetsAsync([partition], Offset.Beginning, cancellationToken).ConfigureAwait(false);
        // Latest under read_committed is the last stable offset: ask read_uncommitted for the high watermark itself.
        var latest = await ListOffsetsAsync([partition], Offset.End, cancellationToken, IsolationLevel.ReadUncommitted).ConfigureAwait(false);
        long stable = -1;
        if (_options.IsolationLevel == IsolationLevel.ReadCommitted)
        {
            stable = (await ListOffsetsAsync([partition], Offset.End, cancellationToken).ConfigureAwait(false))[partition].Offset;
        }
        return new WatermarkOffsets(earliest[partition].Offset, latest[partition].Offset, stable);
    }

    /// <inheritdoc/>
    public long? Lag(TopicPartition partition)
    {
        lock (_sync)
        {
            if (!_partitions.TryGetValue(partition, out var s) || s.CurrentPosition < 0)
            {
                return null;
            }
            long end = s.EndOffset(_options.IsolationLevel);
            return end < 0 ? null : Math.Max(0, end - s.CurrentPosition);
        }
    }

    private IEnumerable<(TopicPartition Partition, long Lag)> ObserveLag()
    {
        lock (_sync)
        {
            return [.. _partitions.Values
                .Where(s => s.CurrentPosition >= 0 && s.EndOffset(_options.IsolationLevel) >= 0)
                .Select(s => (s.TopicPartition, Math.Max(0, s.EndOffset(_options.IsolationLevel) - s.CurrentPosition)))];
        }
    }

    /// <inheritdoc/>
    public void StoreOffset(TopicPartitionOffset nextOffset)
    {
        lock (_sync)
        {
            if (!_partitions.TryGetValue(nextOffset.TopicPartition, out var state))
            {
                throw new InvalidOperationException($"{nextOffset.TopicPartition} is not assigned to this consumer; its offset cannot be stored.");
            }
            state.Fold();
            state.StoredOffset = nextOffset.Offset;
            state.StoredEpoch = nextOffset.LeaderEpoch;
        }
    }

    /// <inheritdoc/>
    public void StoreOffset(ConsumeResult<TKey, TValue> record) => StoreOffset(record.NextOffset);

    // ---------------------------------------------------------------- consuming

    /// <inheritdoc/>
    public ValueTask<ConsumeResult<TKey, TValue>> ConsumeAsync(CancellationToken cancellationToken = default)
    {
        ReleaseFinished();
        return TryTakeNext(out var result) ? new ValueTask<ConsumeResult<TKey, TValue>>(result) : ConsumeSlowAsync(cancellationToken);
    }

    private async ValueTask<ConsumeResult<TKey, TValue>> ConsumeSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTakeNext(out var result))
            {
                return result;
            }
            await WaitForChunkAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask WaitForChunkAsync(CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            await _ready.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(KafkaConsumer<TKey, TValue>), "The consumer was closed.");
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ConsumeResult<TKey, TValue>> ConsumeAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ReleaseFinished();
            if (TryTakeNext(out var result))
            {
                yield return result;
                continue;
            }
            await WaitForChunkAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<ConsumeResult<TKey, TValue>>> ConsumeBatchAsync(int maxRecords, TimeSpan maxWait, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRecords);
        ReleaseFinished();
        var batch = new List<ConsumeResult<TKey, TValue>>(Math.Min(maxRecords, 1024));
        while (batch.Count < maxRecords && TryTakeNext(out var result))
        {
            batch.Add(result);
        }
        if (batch.Count > 0 || maxWait <= TimeSpan.Zero)
        {
            return batch;
        }
        using var timeout = new CancellationTokenSource(maxWait, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        while (batch.Count == 0)
        {
            try
            {
                await WaitForChunkAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                break;
            }
            while (batch.Count < maxRecords && TryTakeNext(out var result))
            {
                batch.Add(result);
            }
        }
        return batch;
    }

    /// <summary>
    /// Hands out the next buffered record, or returns false when nothing is buffered. Throws a pending fatal
    /// error, or a partition's error (once), or a deserialization error (the position stays at the record).
    /// </summary>
    private bool TryTakeNext(out ConsumeResult<TKey, TValue> result)
    {
        while (true)
        {
            if (_fatal is { } fatal)
            {
                throw fatal;
            }
            var chunk = _current ?? NextChunk();
            if (chunk is null)
            {
                result = default;
                return false;
            }
            var state = chunk.State;
            if (chunk.Index < chunk.Count && chunk.Version == Volatile.Read(ref state.VersionField))
            {
                ref readonly var decoded = ref chunk[chunk.Index];
                var record = decoded.Record;
                result = Deserialize(state.Topic, state.Partition, decoded);
                // No lock per record: the progress is published on the chunk and folded into the partition's position
                // when the chunk ends. A seek, pause or revocation bumps the version first and then waits for a record
                // being handed out (HandingOut) before folding, so a record is either counted in the position it
                // commits or not handed out at all. A partition being revoked hands out nothing more: its position is
                // about to be committed for the next owner.
                Interlocked.Exchange(ref state.HandingOut, 1);
                if (chunk.Version != Volatile.Read(ref state.VersionField) || state.Revoking)
                {
                    Volatile.Write(ref state.HandingOut, 0);
                    lock (_sync)
                    {
                        FinishChunkLocked(chunk, stale: true);
                    }
                    continue;
                }
                chunk.Index++;
                chunk.PublishDelivered(record.Offset + 1, decoded.LeaderEpoch);
                Volatile.Write(ref state.HandingOut, 0);
                if (chunk.Index == chunk.Count)
                {
                    CountConsumed(chunk);
                }
                if (KafkaDiagnostics.ActivitySource.HasListeners())
                {
                    ConsumerTracing.RecordReceived(state.TopicPartition, record, _options.GroupId);
                }
                return true;
            }
            lock (_sync)
            {
                FinishChunkLocked(chunk, stale: chunk.Version != state.Version);
            }
            _fetchWake.Set();
        }
    }

    private ConsumeResult<TKey, TValue> Deserialize(string topic, int partition, in DecodedRecord decoded)
    {
        var record = decoded.Record;
        TKey key;
        TValue value;
        try
        {
            key = _keyDeserializer.Deserialize(new ReadOnlySequence<byte>(record.KeyMemory), record.IsKeyNull, new DeserializationContext(topic, IsKey: true));
            value = _valueDeserializer.Deserialize(new ReadOnlySequence<byte>(record.ValueMemory), record.IsValueNull, new DeserializationContext(topic, IsKey: false));
        }
        catch (Exception ex) when (ex is not KafkaSerializationException { Record: not null })
        {
            // The built-in deserializers throw KafkaSerializationException without the record; wrap those too.
            throw new KafkaSerializationException($"The record at {topic}[{partition}]@{record.Offset} could not be deserialized: {ex.Message} Seek past it to skip it.", ex)
            {
                Record = new TopicPartitionOffset(new TopicPartition(topic, partition), record.Offset),
            };
        }
        return new ConsumeResult<TKey, TValue>(topic, partition, record.Offset, decoded.LeaderEpoch, record.Timestamp, decoded.TimestampType, key, value,
            new ConsumedHeaders(record.Headers, record.HeaderCount));
    }

    /// <summary>Takes the next chunk from the ready queue and decodes it; null when the queue is empty. Throws a partition's error.</summary>
    private FetchedChunk? NextChunk(bool adopt = true)
    {
        while (_ready.Reader.TryRead(out var chunk))
        {
            var state = chunk.State;
            if (ReferenceEquals(state, _wakeState))
            {
                continue;
            }
            lock (_sync)
            {
                if (chunk.Version != state.Version || state.Removed)
                {
                    FinishChunkLocked(chunk, stale: true);
                    continue;
                }
                if (chunk.Error is { } error)
                {
                    state.Failed = true;
                    FinishChunkLocked(chunk, stale: true);
                    throw error;
                }
                if (adopt)
                {
                    _current = chunk;
                    state.ActiveChunk = chunk;
                }
            }
            try
            {
                chunk.Decode(_reader, state.Position, _options.IsolationLevel == IsolationLevel.ReadCommitted, RentBuffer);
            }
            catch (KafkaException ex)
            {
                lock (_sync)
                {
                    state.Failed = true;
                    state.Version++;
                    FinishChunkLocked(chunk, stale: true);
                }
                throw new KafkaException(ex.ErrorCode, $"{state.TopicPartition} at offset {state.Position}: {ex.Message} The partition is not fetched again until it is sought.", ex);
            }
            ConsumerMetrics.BytesConsumed.Add(chunk.RecordSet.Length, new KeyValuePair<string, object?>("topic", state.Topic));
            return chunk;
        }
        return null;
    }

    /// <summary>Marks a chunk done: its bytes leave the buffer accounting, the position moves past skipped batches, and its buffers are released at the next consume call.</summary>
    private void FinishChunkLocked(FetchedChunk chunk, bool stale)
    {
        var state = chunk.State;
        CountConsumed(chunk);
        if (!stale)
        {
            state.Fold();
            if (chunk.EndOffset > state.Position)
            {
                // Past batches never handed out (control batches, aborted transactions): the position's epoch is the
                // last batch's, or a later validation would take the skipped batches for a truncation.
                state.Position = chunk.EndOffset;
                state.PositionEpoch = chunk.EndEpoch;
            }
        }
        else if (chunk.Processed > state.StoredOffset && state.CountsAsProcessed(chunk))
        {
            // A runner handler finished its record after a pause or a position validation made the chunk stale (the fold
            // then took the record as delivered, not yet processed). The position did not move back past it, so it counts
            // as processed: otherwise an AfterProcessing commit would hand it to the next owner again.
            state.StoredOffset = chunk.Processed;
            state.StoredEpoch = chunk.ProcessedEpoch;
        }
        if (ReferenceEquals(state.ActiveChunk, chunk))
        {
            state.ActiveChunk = null;
        }
        state.BufferedBytes -= chunk.RecordSet.Length;
        _bufferedBytes -= chunk.RecordSet.Length;
        if (ReferenceEquals(_current, chunk))
        {
            _current = null;
        }
        _finished.Add(chunk);
    }

    /// <summary>
    /// Adds the records the application got from <paramref name="chunk"/> since the last count to the records-consumed metric:
    /// once when its last record is handed out and once when it finishes, so records dropped by a seek, pause or revocation are
    /// never counted, and nothing is added per record.
    /// </summary>
    private static void CountConsumed(FetchedChunk chunk)
    {
        int count = chunk.TakeUncounted();
        if (count > 0)
        {
            ConsumerMetrics.RecordsConsumed.Add(count, new KeyValuePair<string, object?>("topic", chunk.State.Topic));
        }
    }

    private void ReleaseFinished()
    {
        if (_finished.Count == 0)
        {
            return;
        }
        lock (_sync)
        {
            foreach (var chunk in _finished)
            {
                chunk.Release(ReturnBuffer);
            }
            _finished.Clear();
        }
    }

    private PooledBufferWriter RentBuffer()
    {
        lock (_bufferPool)
        {
            return _bufferPool.TryPop(out var buffer) ? buffer : new PooledBufferWriter();
        }
    }

    private void ReturnBuffer(PooledBufferWriter buffer)
    {
        lock (_bufferPool)
        {
            if (_bufferPool.Count < 64 && buffer.Capacity <= 8 * 1024 * 1024)
            {
                buffer.Reset();
                _bufferPool.Push(buffer);
                return;
            }
        }
        buffer.Dispose();
    }

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            throw new ObjectDisposedException(nameof(KafkaConsumer<TKey, TValue>), "The consumer was closed.");
        }
    }

    private void WakeConsumers() => _ready.Writer.TryWrite(new FetchedChunk(_wakeState, -1, ReadOnlyMemory<byte>.Empty, -1, null));

    private async Task<KafkaProtocolClient> ClientAsync(CancellationToken cancellationToken) =>
        await _clientTask.WaitAsync(cancellationToken).ConfigureAwait(false);

    private long Now => _time.GetTimestamp();

    private long After(TimeSpan delay) => _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);

    private TimeSpan Until(long timestamp) => timestamp <= 0 ? TimeSpan.Zero : _time.GetElapsedTime(_time.GetTimestamp(), timestamp) is var t && t > TimeSpan.Zero ? t : TimeSpan.Zero;
}
