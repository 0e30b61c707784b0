using System.Runtime.CompilerServices;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Producer;

/// <summary>The outcome of one record.</summary>
internal readonly record struct DeliveryOutcome(string Topic, int Partition, long Offset, long TimestampMs, PersistenceStatus Status, Errors.KafkaException? Error);

/// <summary>
/// One record's bookkeeping inside a batch: who to tell (the producer's own object: a delivery
/// callback, a task completion source, or null for nobody; no wrapper is allocated per record),
/// the message, its timestamp, and its tracing span.
/// </summary>
internal readonly record struct DeliveryEntry(object? Target, object Message, long TimestampMs, System.Diagnostics.Activity? Activity = null);

/// <summary>
/// What a batch's <c>ProduceAsync</c> callers wait on: one object per batch (not one per record)
/// whose record index is the awaited <c>ValueTask</c>'s token. Records waited on this way carry
/// <see cref="Marker"/> as their <see cref="DeliveryEntry.Target"/>; the batch's completion
/// completes them all at once through <see cref="Complete"/>.
/// </summary>
internal abstract class BatchAwaiters
{
    /// <summary>The most records of one batch that can be awaited through its awaiters (the token keeps 11 bits for the index).</summary>
    public const int MaxRecords = 2048;

    /// <summary>The delivery target of a record awaited through its batch's awaiters.</summary>
    public static readonly object Marker = new();

    /// <summary>
    /// Takes one more awaited record, at <paramref name="index"/> in the batch (called under the
    /// partition's lock, before the batch can be sent); <paramref name="capacityHint"/> is how many
    /// records the batch has room for so far.
    /// </summary>
    public abstract void Expect(int index, int capacityHint);

    /// <summary>
    /// Completes every awaited record of <paramref name="batch"/>: acknowledged from
    /// <paramref name="baseOffset"/> (with the broker's <paramref name="logAppendTimeMs"/> when it
    /// is not -1), or failed with <paramref name="error"/>.
    /// </summary>
    /// <param name="batch">The batch whose awaited records complete.</param>
    /// <param name="baseOffset">The first record's offset, or -1.</param>
    /// <param name="logAppendTimeMs">The broker's log-append time, or -1.</param>
    /// <param name="status">Whether the records are stored.</param>
    /// <param name="error">The failure, or null.</param>
    /// <param name="recordErrors">Errors of single records by index in the batch (KIP-467), overriding <paramref name="error"/> for them.</param>
    public abstract void Complete(ProducerBatch batch, long baseOffset, long logAppendTimeMs, PersistenceStatus status, KafkaClient.Errors.KafkaException? error,
        IReadOnlyDictionary<int, KafkaClient.Errors.KafkaException>? recordErrors = null);
}

/// <summary>The producer id and epoch that a partition's sequence numbers belong to.</summary>
internal readonly record struct ProducerStamp(long Id, short Epoch)
{
    /// <summary>No producer id (not idempotent, or not known yet).</summary>
    public static ProducerStamp None { get; } = new(-1, -1);

    /// <summary>True for a producer id obtained from the broker.</summary>
    public bool IsValid => Id >= 0;
}

/// <summary>
/// Records for one partition on their way to the broker: the encoded batch plus, per record, who
/// to tell when it is acknowledged. Closed batches are immutable apart from the producer fields
/// (id, epoch, base sequence), which are stamped when the batch is first drained and kept through
/// retries (unless the partition is resequenced after an epoch bump).
/// </summary>
internal sealed class ProducerBatch
{
    private DeliveryEntry[] _entries;

    public ProducerBatch(TopicPartition partition, RecordBatchWriter writer, long createdTimestamp, int expectedRecords = 16)
    {
        _entries = new DeliveryEntry[Math.Clamp(expectedRecords, 1, 4096)];
        Partition = partition;
        Writer = writer;
        CreatedTimestamp = createdTimestamp;
    }

    public TopicPartition Partition { get; private set; }

    public RecordBatchWriter Writer { get; }

    public long CreatedTimestamp { get; private set; }

    /// <summary>Forgets the records of a completed batch (the messages and callbacks it referenced), keeping its arrays and buffers for reuse.</summary>
    public void Clear()
    {
        Array.Clear(_entries, 0, RecordCount);
        RecordCount = 0;
        Encoded = default;
        Awaiters = null;
    }

    /// <summary>Completes the batch's awaited records (<c>ProduceAsync</c> without a cancellation token), or null when it has none.</summary>
    public BatchAwaiters? Awaiters { get; set; }

    /// <summary>Makes a cleared batch ready for reuse by <paramref name="partition"/>: its entry array and writer buffers are kept.</summary>
    public void Recycle(TopicPartition partition, long createdTimestamp)
    {
        Writer.Reset();
        Partition = partition;
        CreatedTimestamp = createdTimestamp;
        SizeInBytes = RecordBatchWriter.BatchHeaderSize;
        IsClosed = false;
        Attempts = 0;
        RetryNotBefore = 0;
        BaseSequence = -1;
        Producer = ProducerStamp.None;
        Ordinal = -1;
        IsResend = false;
        Encoded = default;
    }

    public int RecordCount { get; private set; }

    /// <summary>Bytes of records appended (uncompressed), for batch size and buffer accounting.</summary>
    public int SizeInBytes { get; private set; } = RecordBatchWriter.BatchHeaderSize;

    public bool IsClosed { get; set; }

    /// <summary>How many times this batch has been sent.</summary>
    public int Attempts { get; set; }

    /// <summary>Timestamp before which a retry must not be sent.</summary>
    public long RetryNotBefore { get; set; }

    /// <summary>The batch's bytes as last finished for sending (valid while the batch is in flight).</summary>
    public ReadOnlyMemory<byte> Encoded { get; set; }

    /// <summary>The sequence of the first record under idempotence, or -1 until assigned.</summary>
    public int BaseSequence { get; set; } = -1;

    /// <summary>The producer id and epoch <see cref="BaseSequence"/> belongs to.</summary>
    public ProducerStamp Producer { get; set; } = ProducerStamp.None;

    /// <summary>The batch's place in its partition (drain order, kept through retries), or -1 before its first drain.</summary>
    public long Ordinal { get; set; } = -1;

    /// <summary>True while the batch is in flight again with the sequences of an earlier send (a retry the broker may already hold).</summary>
    public bool IsResend { get; set; }

    public ReadOnlySpan<DeliveryEntry> Entries => _entries.AsSpan(0, RecordCount);

    /// <summary>How many records the batch's entry array holds before it grows.</summary>
    public int Capacity => _entries.Length;

    public void Add(in DeliveryEntry entry, int recordSize)
    {
        if (RecordCount == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }
        _entries[RecordCount++] = entry;
        SizeInBytes += recordSize;
    }
}

/// <summary>
/// The producer's accumulator: per-partition queues of batches, filled by produce calls and
/// drained by the sender. Pure data and locks, no I/O; time is passed in, so it is tested with
/// fake time.
/// </summary>
/// <remarks>
/// <para>
/// In flight per partition: an idempotent producer may have up to <c>maxInFlightPerPartition</c>
/// (at most 5, what the broker remembers for duplicate detection) batches of one partition in
/// flight; sequences are assigned here, at drain time, in drain order. A retried batch keeps its
/// producer id, epoch and sequence, goes back into the queue in drain order, and is sent again only
/// once every earlier batch of its partition is resolved; while a resent batch is in flight nothing
/// else of its partition is sent (so recovery is one batch at a time, as in the Java client).
/// </para>
/// <para>
/// A producer without idempotence keeps one batch per partition in flight: its retries could
/// otherwise be overtaken by (and, lacking sequences, not be told apart from) later batches, which
/// would reorder records. Java documents such reordering with <c>max.in.flight &gt; 1</c>; we keep order instead.
/// </para>
/// <para>
/// Epoch changes are per partition: after an epoch bump (or a new producer id) a partition keeps
/// retrying its unresolved batches under the producer they were stamped with, and starts the new
/// producer's sequences at 0 only once nothing of the old one is in flight or waiting. A partition
/// whose sequence state the broker lost (<see cref="Resequence"/>) gives its unacknowledged batches
/// new sequences under the new producer once its in-flight batches are back.
/// </para>
/// </remarks>
internal sealed class RecordAccumulator
{
    private readonly Dictionary<TopicPartition, PartitionQueue> _queues = [];
    private readonly Stack<ProducerBatch> _spareBatches = new();
    private PartitionQueue[]? _queueArray; // _queues' values for Drain, rebuilt when a partition is added (under the _queues lock)
    private readonly int _maxSpareBatches;
    private readonly int _batchSize;
    private readonly long _lingerTicks;
    private readonly CompressionType _compression;
    private readonly int? _compressionLevel;
    private readonly long _bufferMemory;
    private readonly int _maxInFlightPerPartition;
    private readonly bool _idempotent;
    private readonly bool _transactional;
    private long _bufferedBytes;
    private int _flushesRequested;
    private int _inFlight;

    public RecordAccumulator(int batchSize, TimeSpan linger, long timestampFrequency, CompressionType compression, int? compressionLevel, long bufferMemory,
        bool idempotent = false, int maxInFlightPerPartition = 1, bool transactional = false)
    {
        _batchSize = batchSize;
        _lingerTicks = (long)(linger.TotalSeconds * timestampFrequency);
        _compression = compression;
        _compressionLevel = compressionLevel;
        _bufferMemory = bufferMemory;
        _idempotent = idempotent;
        _transactional = transactional;
        _maxInFlightPerPartition = idempotent ? Math.Clamp(maxInFlightPerPartition, 1, 5) : 1;
        // Completed batches (entry arrays and writer buffers) are reused across partitions, up to
        // what the buffer can hold: once warm, a steady stream of records allocates no batches. A
        // batch closes when the next record would not fit, so batches hold less than BatchSize
        // (and the buffer counts records, not batch headers): a full buffer is more than
        // BufferMemory / BatchSize batches. Twice that covers batches down to half full; the pool
        // never holds more batches than were once outstanding together.
        _maxSpareBatches = (int)Math.Clamp(2 * bufferMemory / Math.Max(batchSize, 1), 16, 8192);
    }

    /// <summary>Bytes of records not yet acknowledged or failed.</summary>
    public long BufferedBytes => Interlocked.Read(ref _bufferedBytes);

    /// <summary>Batches drained and not yet completed or requeued, over all partitions.</summary>
    public int InFlightCount => Volatile.Read(ref _inFlight);

    /// <summary>True when a record of <paramref name="size"/> bytes fits in the buffer now.</summary>
    public bool HasRoomFor(int size) => BufferedBytes + size <= _bufferMemory || BufferedBytes == 0;

    /// <summary>
    /// Appends a record to its partition's open batch, opening a new one when the record would
    /// overflow it. Returns true when a batch was opened or became full: the sender should wake
    /// (to start the new batch's linger clock, or to send the full one).
    /// </summary>
    public bool Append(TopicPartition partition, long timestampMs, NullableBytes key, NullableBytes value, ReadOnlySpan<RecordHeader> headers, in DeliveryEntry entry, long now) =>
        Append(partition, timestampMs, key, value, headers, entry, now, out _, out _);

    /// <summary>
    /// <see cref="Append(TopicPartition, long, NullableBytes, NullableBytes, ReadOnlySpan{RecordHeader}, in DeliveryEntry, long)"/>,
    /// also telling what the record added to its batch (<paramref name="appendedBytes"/>: the record
    /// with its length prefix, plus the batch header when it opened a batch) and whether the
    /// partition's open batch is full after it (<paramref name="batchFull"/>: closed, or without room
    /// for another record of the same size), for the sticky partitioner.
    /// </summary>
    public bool Append(TopicPartition partition, long timestampMs, NullableBytes key, NullableBytes value, ReadOnlySpan<RecordHeader> headers, in DeliveryEntry entry, long now,
        out int appendedBytes, out bool batchFull) =>
        Append(partition, timestampMs, key, value, headers, entry, now, awaitersFactory: null, out appendedBytes, out batchFull, out _, out _);

    /// <summary>
    /// <see cref="Append(TopicPartition, long, NullableBytes, NullableBytes, ReadOnlySpan{RecordHeader}, in DeliveryEntry, long, out int, out bool)"/>
    /// for a record awaited through its batch's <see cref="BatchAwaiters"/> (its entry's target is
    /// <see cref="BatchAwaiters.Marker"/>): the batch gets its awaiters from
    /// <paramref name="awaitersFactory"/> when it has none yet, the record is expected there, and
    /// <paramref name="awaiters"/> and <paramref name="index"/> say where to wait. A batch takes at
    /// most <see cref="BatchAwaiters.MaxRecords"/> awaited records: the next one opens a new batch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Append(TopicPartition partition, long timestampMs, NullableBytes key, NullableBytes value, ReadOnlySpan<RecordHeader> headers, in DeliveryEntry entry, long now,
        Func<BatchAwaiters>? awaitersFactory, out int appendedBytes, out bool batchFull, out BatchAwaiters? awaiters, out int index)
    {
        var queue = GetQueue(partition);
        bool becameReady = false;
        lock (queue)
        {
            var batch = queue.Open;
            int size = batch?.Writer.MeasureRecord(timestampMs, key, value, headers) ?? 0;
            if (batch is not null && batch.RecordCount > 0 &&
                (batch.SizeInBytes + size > _batchSize || (awaitersFactory is not null && batch.RecordCount >= BatchAwaiters.MaxRecords)))
            {
                batch.IsClosed = true;
                queue.Ready.Enqueue(batch);
                queue.Open = batch = null;
                becameReady = true;
            }
            appendedBytes = 0;
            if (batch is null)
            {
                batch = queue.Open = RentBatch(partition, now, key.WireLength + value.WireLength);
                size = batch.Writer.MeasureRecord(timestampMs, key, value, headers);
                appendedBytes = RecordBatchWriter.BatchHeaderSize;
                becameReady = true;
            }
            batch.Writer.Append(timestampMs, key, value, headers);
            index = batch.RecordCount;
            batch.Add(entry, size);
            awaiters = null;
            if (awaitersFactory is not null)
            {
                awaiters = batch.Awaiters ??= awaitersFactory();
                awaiters.Expect(index, batch.Capacity);
            }
            appendedBytes += size;
            Interlocked.Add(ref _bufferedBytes, size);
            // No room for another record like this one: the next would most likely open a new
            // batch, so this one is ready now rather than at its linger deadline.
            batchFull = batch.SizeInBytes + size > _batchSize;
            if (batchFull)
            {
                batch.IsClosed = true;
                queue.Ready.Enqueue(batch);
                queue.Open = null;
                becameReady = true;
            }
        }
        return becameReady;
    }

    /// <summary>Makes every open batch sendable now, regardless of linger (for flush and close).</summary>
    public void BeginFlush() => Interlocked.Increment(ref _flushesRequested);

    /// <summary>Ends a flush started with <see cref="BeginFlush"/>.</summary>
    public void EndFlush() => Interlocked.Decrement(ref _flushesRequested);

    /// <summary>Drains without a producer id (a producer without idempotence, and tests).</summary>
    public List<ProducerBatch> Drain(long now, out long nextCheck) => Drain(now, ProducerStamp.None, out nextCheck);

    /// <summary>Drains into a new list (tests).</summary>
    public List<ProducerBatch> Drain(long now, ProducerStamp producer, out long nextCheck)
    {
        var result = new List<ProducerBatch>();
        Drain(now, producer, result, out nextCheck);
        return result;
    }

    /// <summary>
    /// Takes, per partition with room in flight, the next batch that may be sent at
    /// <paramref name="now"/>: a full batch, a batch whose linger has passed, any batch during a
    /// flush; retries wait for their backoff and for every earlier batch of their partition. At
    /// most one batch per partition per call (a Produce request carries one batch per partition).
    /// Under idempotence, fresh batches get <paramref name="producer"/>'s next sequences here; with
    /// no valid <paramref name="producer"/>, batches are handed out unstamped (the sender can then
    /// only retry or fail them). Also returns when the sender should look again.
    /// </summary>
    public void Drain(long now, ProducerStamp producer, List<ProducerBatch> result, out long nextCheck)
    {
        result.Clear();
        nextCheck = long.MaxValue;
        // An idle producer (nothing in flight) sends at once: lingering only pays off while a
        // request is on the wire, and waiting would add the linger to every lone record's latency.
        bool flushing = Volatile.Read(ref _flushesRequested) > 0 || Volatile.Read(ref _inFlight) == 0;
        bool stamp = _idempotent && producer.IsValid;
        PartitionQueue[] queues;
        lock (_queues)
        {
            queues = _queueArray ??= [.. _queues.Values];
        }
        foreach (var queue in queues)
        {
            lock (queue)
            {
                if (queue.InFlight.Count >= _maxInFlightPerPartition || queue.HasResendInFlight())
                {
                    continue;
                }
                if (queue.Ready.Count == 0 && queue.Open is { RecordCount: > 0 } open)
                {
                    long due = open.CreatedTimestamp + _lingerTicks;
                    if (flushing || due <= now)
                    {
                        open.IsClosed = true;
                        queue.Ready.Enqueue(open);
                        queue.Open = null;
                    }
                    else
                    {
                        nextCheck = Math.Min(nextCheck, due);
                    }
                }
                if (!queue.Ready.TryPeek(out var next))
                {
                    continue;
                }
                if (next.RetryNotBefore > now)
                {
                    nextCheck = Math.Min(nextCheck, next.RetryNotBefore);
                    continue;
                }
                if (stamp && !TryResequence(queue, producer))
                {
                    continue;
                }
                if (stamp && queue.InFlight.Count > 0 && !queue.HasAcknowledged)
                {
                    // A broker accepts any first sequence from a producer it has no state for, so a
                    // later batch could be written ahead of a first one that failed: until a batch
                    // of the partition's producer is acknowledged, one batch at a time.
                    continue;
                }
                bool keepsSequence = next.BaseSequence >= 0;
                if (keepsSequence && queue.HasInFlightBefore(next.Ordinal))
                {
                    // A retry goes once every earlier batch of its partition is resolved (a
                    // completion wakes the sender).
                    continue;
                }
                if (stamp && !keepsSequence && !TryStamp(queue, next, producer))
                {
                    continue;
                }
                queue.Ready.Dequeue();
                if (next.Ordinal < 0)
                {
                    next.Ordinal = queue.NextOrdinal++;
                }
                // A batch given new sequences (after a gap) is new to the broker: no need to send it alone.
                next.IsResend = next.Attempts > 0 && keepsSequence;
                queue.InFlight.Add(next);
                Interlocked.Increment(ref _inFlight);
                result.Add(next);
            }
        }
    }

    /// <summary>
    /// When the broker lost (or rejects) the partition's sequence state under a producer, starts it
    /// over at sequence 0 under a newer one (KIP-360), once nothing of the old one is in flight:
    /// every batch not yet acknowledged gets new sequences. False while the partition must wait.
    /// </summary>
    private static bool TryResequence(PartitionQueue queue, ProducerStamp producer)
    {
        if (queue.ResequenceAfter is not { } stale)
        {
            return true;
        }
        if (queue.InFlight.Count > 0 || producer == stale)
        {
            return false;
        }
        foreach (var batch in queue.Ready)
        {
            batch.BaseSequence = -1;
            batch.Producer = ProducerStamp.None;
        }
        queue.Producer = producer;
        queue.NextSequence = 0;
        queue.HasAcknowledged = false;
        queue.ResequenceAfter = null;
        return true;
    }

    /// <summary>Gives a batch never stamped (or resequenced) the partition's next sequences, or returns false when it must wait.</summary>
    private bool TryStamp(PartitionQueue queue, ProducerBatch next, ProducerStamp producer)
    {
        if (queue.Producer != producer)
        {
            // A new producer id or epoch starts at sequence 0, but only once the partition's
            // batches of the previous one are resolved: they are retried under their own epoch,
            // so the broker can still drop them as duplicates.
            if (queue.InFlight.Count > 0)
            {
                return false;
            }
            queue.Producer = producer;
            queue.NextSequence = 0;
            queue.HasAcknowledged = false;
        }
        next.Producer = producer;
        next.BaseSequence = queue.NextSequence;
        queue.NextSequence = unchecked(queue.NextSequence + next.RecordCount) & int.MaxValue;
        next.Writer.ProducerId = producer.Id;
        next.Writer.ProducerEpoch = producer.Epoch;
        next.Writer.BaseSequence = next.BaseSequence;
        next.Writer.IsTransactional = _transactional;
        return true;
    }

    /// <summary>True when no record is waiting or in flight.</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_queues)
            {
                foreach (var queue in _queues.Values)
                {
                    lock (queue)
                    {
                        if (queue.InFlight.Count > 0 || queue.Ready.Count > 0 || queue.Open is { RecordCount: > 0 })
                        {
                            return false;
                        }
                    }
                }
            }
            return true;
        }
    }

    /// <summary>
    /// True when a batch of the same partition drained before <paramref name="batch"/> is neither
    /// acknowledged nor failed: it is in flight or waiting to be retried. A sequence error on
    /// <paramref name="batch"/> is then the consequence of that batch's failure (the broker saw a
    /// gap because the earlier one was not written), not a real gap: retry, without an epoch bump.
    /// </summary>
    public bool HasUnresolvedBefore(ProducerBatch batch)
    {
        var queue = GetQueue(batch.Partition);
        lock (queue)
        {
            return queue.HasInFlightBefore(batch.Ordinal)
                || (queue.Ready.TryPeek(out var head) && head.Ordinal >= 0 && head.Ordinal < batch.Ordinal);
        }
    }

    /// <summary>
    /// The broker lost or rejects <paramref name="partition"/>'s sequence state under
    /// <paramref name="stale"/> (a real gap, UNKNOWN_PRODUCER_ID): its unacknowledged batches get
    /// new sequences under the next producer id or epoch, once its in-flight batches are back.
    /// Does nothing if the partition already moved past <paramref name="stale"/>.
    /// </summary>
    public void Resequence(TopicPartition partition, ProducerStamp stale)
    {
        var queue = GetQueue(partition);
        lock (queue)
        {
            if (queue.Producer == stale)
            {
                queue.ResequenceAfter = stale;
            }
        }
    }

    /// <summary>
    /// A batch was acknowledged (<paramref name="acknowledged"/>) or failed for good: frees its
    /// partition and buffer space. A batch failed before it was ever sent gives back its sequences
    /// when it holds the partition's last ones.
    /// </summary>
    public void Complete(ProducerBatch batch, bool acknowledged = true)
    {
        var queue = GetQueue(batch.Partition);
        lock (queue)
        {
            if (queue.InFlight.Remove(batch))
            {
                Interlocked.Decrement(ref _inFlight);
            }
            if (acknowledged && batch.Producer == queue.Producer)
            {
                queue.HasAcknowledged = true;
            }
            if (batch.Attempts == 0 && batch.BaseSequence >= 0 && batch.Producer == queue.Producer
                && queue.NextSequence == (unchecked(batch.BaseSequence + batch.RecordCount) & int.MaxValue))
            {
                queue.NextSequence = batch.BaseSequence;
            }
        }
        Interlocked.Add(ref _bufferedBytes, -(batch.SizeInBytes - RecordBatchWriter.BatchHeaderSize));
        ReturnBatch(batch);
    }

    private ProducerBatch RentBatch(TopicPartition partition, long now, int recordPayloadSize)
    {
        ProducerBatch? batch;
        lock (_spareBatches)
        {
            _spareBatches.TryPop(out batch);
        }
        if (batch is null)
        {
            // Entries sized for a batch of records like this one (about 10 bytes of framing each),
            // rather than grown by doubling from a few: a new batch allocates a third as much.
            int expectedRecords = _batchSize / (recordPayloadSize + 10) + 1;
            batch = new ProducerBatch(partition, new RecordBatchWriter(Math.Max(_batchSize, 1024)), now, expectedRecords);
        }
        else
        {
            batch.Recycle(partition, now);
        }
        batch.Writer.Compression = _compression;
        batch.Writer.CompressionLevel = _compressionLevel;
        return batch;
    }

    private void ReturnBatch(ProducerBatch batch)
    {
        batch.Clear();
        lock (_spareBatches)
        {
            if (_spareBatches.Count < _maxSpareBatches)
            {
                _spareBatches.Push(batch);
                return;
            }
        }
        batch.Writer.Dispose();
    }

    /// <summary>A batch will be retried: it goes back into its partition's queue in drain order, ahead of newer batches.</summary>
    public void Requeue(ProducerBatch batch, long retryNotBefore)
    {
        var queue = GetQueue(batch.Partition);
        lock (queue)
        {
            batch.RetryNotBefore = retryNotBefore;
            batch.IsResend = false;
            if (queue.InFlight.Remove(batch))
            {
                Interlocked.Decrement(ref _inFlight);
            }
            var rest = queue.Ready.ToArray();
            queue.Ready.Clear();
            bool placed = false;
            foreach (var b in rest)
            {
                if (!placed && (b.Ordinal < 0 || b.Ordinal > batch.Ordinal))
                {
                    queue.Ready.Enqueue(batch);
                    placed = true;
                }
                queue.Ready.Enqueue(b);
            }
            if (!placed)
            {
                queue.Ready.Enqueue(batch);
            }
        }
    }

    /// <summary>Removes and returns every batch not in flight (to fail them on close or fatal error).</summary>
    public List<ProducerBatch> TakeAllUnsent()
    {
        var result = new List<ProducerBatch>();
        lock (_queues)
        {
            foreach (var queue in _queues.Values)
            {
                lock (queue)
                {
                    result.AddRange(queue.Ready);
                    queue.Ready.Clear();
                    if (queue.Open is { RecordCount: > 0 } open)
                    {
                        result.Add(open);
                    }
                    queue.Open = null;
                }
            }
        }
        return result;
    }

    private PartitionQueue GetQueue(TopicPartition partition)
    {
        lock (_queues)
        {
            if (!_queues.TryGetValue(partition, out var queue))
            {
                _queues[partition] = queue = new PartitionQueue();
                _queueArray = null;
            }
            return queue;
        }
    }

    private sealed class PartitionQueue
    {
        public ProducerBatch? Open { get; set; }

        /// <summary>Closed batches: retries first, in drain order, then new batches in append order.</summary>
        public Queue<ProducerBatch> Ready { get; } = new();

        /// <summary>Drained and not yet acknowledged, failed or requeued, in drain order.</summary>
        public List<ProducerBatch> InFlight { get; } = new(5);

        /// <summary>The next sequence of <see cref="Producer"/> in this partition.</summary>
        public int NextSequence { get; set; }

        /// <summary>The producer id and epoch this partition's sequences currently belong to.</summary>
        public ProducerStamp Producer { get; set; } = ProducerStamp.None;

        /// <summary>True once the broker acknowledged a batch of <see cref="Producer"/> in this partition (it has state for it).</summary>
        public bool HasAcknowledged { get; set; }

        /// <summary>Set when the partition must start over at sequence 0 under a producer newer than this one.</summary>
        public ProducerStamp? ResequenceAfter { get; set; }

        /// <summary>The ordinal the next drained batch gets.</summary>
        public long NextOrdinal { get; set; }

        public bool HasInFlightBefore(long ordinal)
        {
            foreach (var batch in InFlight)
            {
                if (batch.Ordinal < ordinal)
                {
                    return true;
                }
            }
            return false;
        }

        public bool HasResendInFlight()
        {
            foreach (var batch in InFlight)
            {
                if (batch.IsResend)
                {
                    return true;
                }
            }
            return false;
        }
    }
}
