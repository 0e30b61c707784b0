using KafkaClient.Protocol.Records;

namespace KafkaClient.Producer;

/// <summary>What to call when a record's delivery is decided.</summary>
internal abstract class DeliveryTarget
{
    /// <summary>Reports the outcome for <paramref name="message"/>.</summary>
    public abstract void Complete(object message, in DeliveryOutcome outcome);
}

/// <summary>The outcome of one record.</summary>
internal readonly record struct DeliveryOutcome(string Topic, int Partition, long Offset, long TimestampMs, PersistenceStatus Status, Errors.KafkaException? Error);

/// <summary>One record's bookkeeping inside a batch: who to tell, and about what.</summary>
internal readonly record struct DeliveryEntry(DeliveryTarget Target, object Message, long TimestampMs, System.Diagnostics.Activity? Activity = null);

/// <summary>
/// Records for one partition on their way to the broker: the encoded batch plus, per record, who
/// to tell when it is acknowledged. Closed batches are immutable apart from the producer fields
/// (id, epoch, base sequence), which are stamped when the batch is first sent.
/// </summary>
internal sealed class ProducerBatch
{
    private DeliveryEntry[] _entries = new DeliveryEntry[16];

    public ProducerBatch(TopicPartition partition, RecordBatchWriter writer, long createdTimestamp)
    {
        Partition = partition;
        Writer = writer;
        CreatedTimestamp = createdTimestamp;
    }

    public TopicPartition Partition { get; }

    public RecordBatchWriter Writer { get; private set; }

    public long CreatedTimestamp { get; private set; }

    /// <summary>Makes a completed batch ready for reuse (its entry array is kept; the records it referenced are released).</summary>
    public void Recycle(RecordBatchWriter writer, long createdTimestamp)
    {
        Array.Clear(_entries, 0, RecordCount);
        Writer = writer;
        CreatedTimestamp = createdTimestamp;
        RecordCount = 0;
        SizeInBytes = RecordBatchWriter.BatchHeaderSize;
        IsClosed = false;
        Attempts = 0;
        RetryNotBefore = 0;
        BaseSequence = -1;
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

    public ReadOnlySpan<DeliveryEntry> Entries => _entries.AsSpan(0, RecordCount);

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
/// fake time. One batch per partition is in flight at a time, which keeps per-partition order
/// through retries.
/// </summary>
internal sealed class RecordAccumulator
{
    private readonly Dictionary<TopicPartition, PartitionQueue> _queues = [];
    private readonly int _batchSize;
    private readonly long _lingerTicks;
    private readonly CompressionType _compression;
    private readonly int? _compressionLevel;
    private readonly long _bufferMemory;
    private long _bufferedBytes;
    private int _flushesRequested;
    private int _inFlight;

    public RecordAccumulator(int batchSize, TimeSpan linger, long timestampFrequency, CompressionType compression, int? compressionLevel, long bufferMemory)
    {
        _batchSize = batchSize;
        _lingerTicks = (long)(linger.TotalSeconds * timestampFrequency);
        _compression = compression;
        _compressionLevel = compressionLevel;
        _bufferMemory = bufferMemory;
    }

    /// <summary>Bytes of records not yet acknowledged or failed.</summary>
    public long BufferedBytes => Interlocked.Read(ref _bufferedBytes);

    /// <summary>True when a record of <paramref name="size"/> bytes fits in the buffer now.</summary>
    public bool HasRoomFor(int size) => BufferedBytes + size <= _bufferMemory || BufferedBytes == 0;

    /// <summary>
    /// Appends a record to its partition's open batch, opening a new one when the record would
    /// overflow it. Returns true when a batch was opened or became full: the sender should wake
    /// (to start the new batch's linger clock, or to send the full one).
    /// </summary>
    public bool Append(TopicPartition partition, long timestampMs, NullableBytes key, NullableBytes value, ReadOnlySpan<RecordHeader> headers, in DeliveryEntry entry, long now)
    {
        var queue = GetQueue(partition);
        bool becameReady = false;
        lock (queue)
        {
            var batch = queue.Open;
            int size = batch?.Writer.MeasureRecord(timestampMs, key, value, headers) ?? 0;
            if (batch is not null && batch.RecordCount > 0 && batch.SizeInBytes + size > _batchSize)
            {
                batch.IsClosed = true;
                queue.Ready.Enqueue(batch);
                queue.Open = batch = null;
                becameReady = true;
            }
            if (batch is null)
            {
                var writer = queue.RentWriter();
                writer.Compression = _compression;
                writer.CompressionLevel = _compressionLevel;
                batch = queue.Open = queue.RentBatch(partition, writer, now);
                size = writer.MeasureRecord(timestampMs, key, value, headers);
                becameReady = true;
            }
            batch.Writer.Append(timestampMs, key, value, headers);
            batch.Add(entry, size);
            Interlocked.Add(ref _bufferedBytes, size);
            if (batch.SizeInBytes >= _batchSize)
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

    /// <summary>
    /// Takes, per partition with nothing in flight, the next batch that may be sent at
    /// <paramref name="now"/>: a full batch, a batch whose linger has passed, any batch during a
    /// flush; retries wait for their backoff. Also returns when the sender should look again.
    /// </summary>
    public List<ProducerBatch> Drain(long now, out long nextCheck)
    {
        var result = new List<ProducerBatch>();
        nextCheck = long.MaxValue;
        // An idle producer (nothing in flight) sends at once: lingering only pays off while a
        // request is on the wire, and waiting would add the linger to every lone record's latency.
        bool flushing = Volatile.Read(ref _flushesRequested) > 0 || Volatile.Read(ref _inFlight) == 0;
        PartitionQueue[] queues;
        lock (_queues)
        {
            queues = [.. _queues.Values];
        }
        foreach (var queue in queues)
        {
            lock (queue)
            {
                if (queue.InFlight is not null)
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
                if (queue.Ready.TryPeek(out var next))
                {
                    if (next.RetryNotBefore > now)
                    {
                        nextCheck = Math.Min(nextCheck, next.RetryNotBefore);
                        continue;
                    }
                    queue.Ready.Dequeue();
                    queue.InFlight = next;
                    Interlocked.Increment(ref _inFlight);
                    result.Add(next);
                }
            }
        }
        return result;
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
                        if (queue.InFlight is not null || queue.Ready.Count > 0 || queue.Open is { RecordCount: > 0 })
                        {
                            return false;
                        }
                    }
                }
            }
            return true;
        }
    }

    /// <summary>Assigns the next sequence numbers of the partition to <paramref name="batch"/> if it has none.</summary>
    public void AssignSequence(ProducerBatch batch)
    {
        var queue = GetQueue(batch.Partition);
        lock (queue)
        {
            if (batch.BaseSequence < 0)
            {
                batch.BaseSequence = queue.NextSequence;
                queue.NextSequence = unchecked(queue.NextSequence + batch.RecordCount) & int.MaxValue;
            }
        }
    }

    /// <summary>A batch was acknowledged or failed for good: frees its partition and buffer space.</summary>
    public void Complete(ProducerBatch batch)
    {
        var queue = GetQueue(batch.Partition);
        lock (queue)
        {
            if (ReferenceEquals(queue.InFlight, batch))
            {
                queue.InFlight = null;
                Interlocked.Decrement(ref _inFlight);
            }
            queue.ReturnWriter(batch.Writer);
            queue.ReturnBatch(batch);
        }
        Interlocked.Add(ref _bufferedBytes, -(batch.SizeInBytes - RecordBatchWriter.BatchHeaderSize));
    }

    /// <summary>A batch will be retried: it goes back to the front of its partition's queue.</summary>
    public void Requeue(ProducerBatch batch, long retryNotBefore)
    {
        var queue = GetQueue(batch.Partition);
        lock (queue)
        {
            batch.RetryNotBefore = retryNotBefore;
            if (ReferenceEquals(queue.InFlight, batch))
            {
                queue.InFlight = null;
                Interlocked.Decrement(ref _inFlight);
            }
            var rest = queue.Ready.ToArray();
            queue.Ready.Clear();
            queue.Ready.Enqueue(batch);
            foreach (var b in rest)
            {
                queue.Ready.Enqueue(b);
            }
        }
    }

    /// <summary>
    /// After a producer epoch bump every partition's sequence restarts at 0, and batches not yet
    /// acknowledged get new sequences when next sent.
    /// </summary>
    public void ResetSequences()
    {
        lock (_queues)
        {
            foreach (var queue in _queues.Values)
            {
                lock (queue)
                {
                    queue.NextSequence = 0;
                    foreach (var batch in queue.Ready)
                    {
                        batch.BaseSequence = -1;
                    }
                    if (queue.InFlight is { } inFlight)
                    {
                        inFlight.BaseSequence = -1;
                    }
                }
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
            }
            return queue;
        }
    }

    private sealed class PartitionQueue
    {
        private readonly Stack<RecordBatchWriter> _spareWriters = new();
        private readonly Stack<ProducerBatch> _spareBatches = new();

        public ProducerBatch RentBatch(TopicPartition partition, RecordBatchWriter writer, long now)
        {
            if (_spareBatches.TryPop(out var batch))
            {
                batch.Recycle(writer, now);
                return batch;
            }
            return new ProducerBatch(partition, writer, now);
        }

        public void ReturnBatch(ProducerBatch batch)
        {
            if (_spareBatches.Count < 4)
            {
                _spareBatches.Push(batch);
            }
        }

        public ProducerBatch? Open { get; set; }

        public Queue<ProducerBatch> Ready { get; } = new();

        public ProducerBatch? InFlight { get; set; }

        public int NextSequence { get; set; }

        public RecordBatchWriter RentWriter()
        {
            if (_spareWriters.TryPop(out var writer))
            {
                writer.Reset();
                return writer;
            }
            return new RecordBatchWriter();
        }

        public void ReturnWriter(RecordBatchWriter writer)
        {
            if (_spareWriters.Count < 4)
            {
                _spareWriters.Push(writer);
            }
            else
            {
                writer.Dispose();
            }
        }
    }
}
