using System.Buffers.Binary;
using System.Runtime.InteropServices;
using KafkaClient.Errors;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Testing.State;

/// <summary>One record batch as stored: the producer's bytes with base offset and leader epoch patched in.</summary>
internal sealed class StoredBatch
{
    /// <summary>The batch as written (base offset and leader epoch set by the log); a slice of one of the log's slabs.</summary>
    public required ReadOnlyMemory<byte> Bytes { get; init; }
    public required long BaseOffset { get; init; }
    public required long LastOffset { get; init; }
    public required long MaxTimestamp { get; init; }
    public required int LeaderEpoch { get; init; }
    public required long ProducerId { get; init; }
    public required bool IsTransactional { get; init; }
    public required bool IsControl { get; init; }
}

/// <summary>The outcome of one append.</summary>
internal readonly record struct AppendResult(ErrorCode Error, long BaseOffset, long LogStartOffset, string? Message = null)
{
    public static AppendResult Failed(ErrorCode error, string message) => new(error, -1, -1, message);
}

/// <summary>One producer's state in a partition, as DescribeProducers reports it.</summary>
internal readonly record struct ActiveProducer(long ProducerId, short Epoch, int LastSequence, long LastTimestamp, int CoordinatorEpoch, long CurrentTxnStartOffset);

/// <summary>A transaction that was aborted, for read_committed fetches.</summary>
internal readonly record struct AbortedTransaction(long ProducerId, long FirstOffset, long LastOffset);

/// <summary>What one read of the log returned.</summary>
internal readonly record struct LogRead(ReadOnlyMemory<byte> Records, long HighWatermark, long LastStableOffset, long LogStartOffset, IReadOnlyList<AbortedTransaction>? Aborted);

/// <summary>
/// The log of one partition: record batches held as written, offsets, log start offset, high
/// watermark and last stable offset, idempotent producer state and open transactions. Every
/// member is thread-safe (one lock per partition). Replication is simulated, so the high
/// watermark is always the log end offset.
/// </summary>
internal sealed class PartitionLog
{
    /// <summary>Kafka keeps the metadata of the last five batches per producer for duplicate detection.</summary>
    internal const int ProducerBatchesRetained = 5;

    /// <summary>The first slab of a log; small, because tests create many partitions that hold a few records.</summary>
    private const int FirstSlabSize = 16 * 1024;

    /// <summary>The largest slab.</summary>
    private const int MaxSlabSize = 1024 * 1024;

    private readonly object _lock = new();
    private readonly List<StoredBatch> _batches = [];
    private Memory<byte> _slab = Memory<byte>.Empty;
    private int _slabUsed;
    private readonly List<(int Epoch, long StartOffset)> _epochs = [];
    private readonly Dictionary<long, ProducerEntry> _producers = [];
    private readonly Dictionary<long, long> _openTransactions = [];
    private readonly List<AbortedTransaction> _aborted = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _logStartOffset;
    private long _logEndOffset;

    public PartitionLog(int initialLeaderEpoch) => _epochs.Add((initialLeaderEpoch, 0));

    public long LogStartOffset { get { lock (_lock) { return _logStartOffset; } } }

    public long LogEndOffset { get { lock (_lock) { return _logEndOffset; } } }

    /// <summary>The bytes of every stored batch (DescribeLogDirs' partition size).</summary>
    public long SizeInBytes { get { lock (_lock) { return _batches.Sum(b => (long)b.Bytes.Length); } } }

    /// <summary>The high watermark: everything written counts as replicated.</summary>
    public long HighWatermark => LogEndOffset;

    public long LastStableOffset { get { lock (_lock) { return LastStableOffsetLocked(); } } }

    /// <summary>Completes at the next append, leadership change or deletion. Take it before reading, then wait.</summary>
    public Task Changed { get { lock (_lock) { return _changed.Task; } } }

    /// <summary>Wakes fetches waiting on this partition (leadership moved, topic deleted).</summary>
    public void Signal()
    {
        lock (_lock)
        {
            SignalLocked();
        }
    }

    /// <summary>Starts a new leader epoch at the current log end offset (Kafka's leader epoch cache).</summary>
    public void BeginEpoch(int epoch)
    {
        lock (_lock)
        {
            // An epoch in which nothing was written is superseded by the next one at the same offset.
            _epochs.RemoveAll(e => e.Epoch >= epoch || e.StartOffset >= _logEndOffset);
            _epochs.Add((epoch, _logEndOffset));
            SignalLocked();
        }
    }

    /// <summary>
    /// Unclean leader election, as the new leader's log sees it: the batches from the one holding <paramref name="offset"/>
    /// on are gone (a replica holds whole batches), leader epochs that began past the cut are forgotten, and
    /// <paramref name="newEpoch"/> starts at the new log end offset. Producer state is rolled back to the batches kept (a
    /// producer with none left is forgotten); open and aborted transactions past the cut are dropped. Returns the new
    /// log end offset.
    /// </summary>
    public long TruncateAndBeginEpoch(long offset, int newEpoch)
    {
        lock (_lock)
        {
            if (offset < _logStartOffset || offset > _logEndOffset)
            {
                throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The log holds offsets {_logStartOffset} to {_logEndOffset}.");
            }
            int first = FindBatchLocked(offset);
            long cut = first < 0 ? _logEndOffset : Math.Min(offset, _batches[first].BaseOffset);
            if (first >= 0)
            {
                _batches.RemoveRange(first, _batches.Count - first);
            }
            _logEndOffset = cut;
            foreach (var (id, producer) in _producers.ToList())
            {
                var kept = producer.Recent.Where(b => b.BaseOffset < cut).ToList();
                if (kept.Count == producer.Recent.Count)
                {
                    continue;
                }
                if (kept.Count == 0)
                {
                    _producers.Remove(id);
                    continue;
                }
                producer.Recent.Clear();
                kept.ForEach(producer.Recent.Enqueue);
                producer.LastSequence = kept[^1].LastSequence;
            }
            foreach (var (id, firstOffset) in _openTransactions.ToList())
            {
                if (firstOffset >= cut)
                {
                    _openTransactions.Remove(id);
                }
            }
            _aborted.RemoveAll(t => t.LastOffset >= cut);
            _epochs.RemoveAll(e => e.Epoch >= newEpoch || e.StartOffset >= cut);
            _epochs.Add((newEpoch, cut));
            SignalLocked();
            return cut;
        }
    }

    /// <summary>
    /// Appends one producer batch (already framed and CRC-checked by the caller), applying
    /// Kafka's idempotence rules: a retried batch among the producer's last five returns the
    /// original offset; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH.
    /// </summary>
    public AppendResult Append(RecordBatchView batch, int leaderEpoch, long nowMs)
    {
        long producerId = batch.ProducerId;
        short producerEpoch = batch.ProducerEpoch;
        int baseSequence = batch.BaseSequence;
        int lastSequence = baseSequence < 0 ? -1 : (int)((baseSequence + (long)batch.LastOffsetDelta) % ((long)int.MaxValue + 1));
        lock (_lock)
        {
            if (_epochs.Count > 0 && leaderEpoch < _epochs[^1].Epoch)
            {
                // The leadership moved while the request was handled: a deposed leader cannot append (Kafka checks under
                // the partition's leader lock). Stamping the batch with the old epoch past the new epoch's start would
                // make consumers validating their position (KIP-320) see a truncation that never happened.
                return AppendResult.Failed(ErrorCode.NotLeaderOrFollower,
                    $"Leader epoch {leaderEpoch} is older than the partition's current epoch {_epochs[^1].Epoch}.");
            }
            ProducerEntry? producer = null;
            if (producerId >= 0)
            {
                if (_producers.TryGetValue(producerId, out producer))
                {
                    if (producerEpoch < producer.Epoch)
                    {
                        return AppendResult.Failed(ErrorCode.InvalidProducerEpoch,
                            $"Producer {producerId}'s epoch {producerEpoch} is older than the current epoch {producer.Epoch}.");
                    }
                    if (producerEpoch == producer.Epoch)
                    {
                        foreach (var recent in producer.Recent)
                        {
                            if (recent.FirstSequence == baseSequence && recent.LastSequence == lastSequence)
                            {
                                // A retry of a batch already written: success with the original offset.
                                return new AppendResult(ErrorCode.None, recent.BaseOffset, _logStartOffset);
                            }
                        }
                        int expected = producer.LastSequence < 0 ? 0 : NextSequence(producer.LastSequence);
                        if (baseSequence != expected)
                        {
                            return AppendResult.Failed(ErrorCode.OutOfOrderSequenceNumber,
                                $"Out of order sequence number for producer {producerId}: found {baseSequence}, expected {expected}.");
                        }
                    }
                    else if (baseSequence != 0)
                    {
                        return AppendResult.Failed(ErrorCode.OutOfOrderSequenceNumber,
                            $"Invalid sequence number {baseSequence} for producer {producerId}'s new epoch {producerEpoch}: a new epoch starts at 0.");
                    }
                }
                // An unknown producer may start at any sequence (its state may have been lost), as in Kafka.
            }

            long baseOffset = _logEndOffset;
            Memory<byte> bytes = AllocateLocked(batch.Memory.Length);
            batch.Memory.Span.CopyTo(bytes.Span);
            BinaryPrimitives.WriteInt64BigEndian(bytes.Span, baseOffset);
            BinaryPrimitives.WriteInt32BigEndian(bytes.Span[RecordBatchOffsets.PartitionLeaderEpoch..], leaderEpoch);
            var stored = new StoredBatch
            {
                Bytes = bytes,
                BaseOffset = baseOffset,
                LastOffset = baseOffset + batch.LastOffsetDelta,
                MaxTimestamp = batch.MaxTimestamp,
                LeaderEpoch = leaderEpoch,
                ProducerId = producerId,
                IsTransactional = batch.IsTransactional,
                IsControl = batch.IsControl,
            };
            AddLocked(stored, leaderEpoch);

            if (producerId >= 0)
            {
                if (producer is null || producer.Epoch != producerEpoch)
                {
                    producer ??= new ProducerEntry();
                    producer.Epoch = producerEpoch;
                    producer.Recent.Clear();
                    _producers[producerId] = producer;
                }
                producer.LastSequence = lastSequence;
                producer.LastTimestamp = batch.MaxTimestamp;
                producer.Recent.Enqueue(new BatchMetadata(baseSequence, lastSequence, baseOffset, nowMs));
                while (producer.Recent.Count > ProducerBatchesRetained)
                {
                    producer.Recent.Dequeue();
                }
                if (batch.IsTransactional && !_openTransactions.ContainsKey(producerId))
                {
                    _openTransactions[producerId] = baseOffset;
                }
            }
            return new AppendResult(ErrorCode.None, baseOffset, _logStartOffset);
        }
    }

    /// <summary>
    /// Writes a transaction marker (a control batch) for <paramref name="producerId"/>, closing its
    /// open transaction in this partition. For the transaction coordinator.
    /// </summary>
    public long AppendTransactionMarker(long producerId, short producerEpoch, bool commit, int coordinatorEpoch, int leaderEpoch, long nowMs)
    {
        using var writer = new RecordBatchWriter(128)
        {
            ProducerId = producerId,
            ProducerEpoch = producerEpoch,
            BaseSequence = -1,
            IsTransactional = true,
            IsControl = true,
            PartitionLeaderEpoch = leaderEpoch,
        };
        writer.AppendEndTransactionMarker(commit ? ControlRecordType.Commit : ControlRecordType.Abort, coordinatorEpoch, nowMs);
        ReadOnlyMemory<byte> written = writer.Finish();
        lock (_lock)
        {
            long offset = _logEndOffset;
            Memory<byte> bytes = AllocateLocked(written.Length);
            written.Span.CopyTo(bytes.Span);
            BinaryPrimitives.WriteInt64BigEndian(bytes.Span, offset);
            if (_epochs.Count > 0 && leaderEpoch < _epochs[^1].Epoch)
            {
                // The leadership moved since the coordinator looked: the marker is written by the current leader, in
                // its epoch (the field is outside the CRC).
                leaderEpoch = _epochs[^1].Epoch;
                BinaryPrimitives.WriteInt32BigEndian(bytes.Span[RecordBatchOffsets.PartitionLeaderEpoch..], leaderEpoch);
            }
            AddLocked(new StoredBatch
            {
                Bytes = bytes,
                BaseOffset = offset,
                LastOffset = offset,
                MaxTimestamp = nowMs,
                LeaderEpoch = leaderEpoch,
                ProducerId = producerId,
                IsTransactional = true,
                IsControl = true,
            }, leaderEpoch);
            if (_openTransactions.Remove(producerId, out long first) && !commit)
            {
                _aborted.Add(new AbortedTransaction(producerId, first, offset));
            }
            if (_producers.TryGetValue(producerId, out var producer))
            {
                if (producer.Epoch < producerEpoch)
                {
                    producer.Epoch = producerEpoch;
                    producer.LastSequence = -1;
                    producer.Recent.Clear();
                }
                producer.CoordinatorEpoch = coordinatorEpoch;
                producer.LastTimestamp = nowMs;
            }
            return offset;
        }
    }

    /// <summary>
    /// Reads whole batches from the one holding <paramref name="fetchOffset"/> up to the high
    /// watermark, or the last stable offset when <paramref name="readCommitted"/>,
    /// at most <paramref name="maxBytes"/> bytes, except that the first batch is returned whole
    /// when <paramref name="minOneBatch"/> is set (KIP-74). Returns OFFSET_OUT_OF_RANGE outside
    /// [log start, log end].
    /// </summary>
    public ErrorCode Read(long fetchOffset, bool readCommitted, int maxBytes, bool minOneBatch, out LogRead result)
    {
        lock (_lock)
        {
            long lso = LastStableOffsetLocked();
            if (fetchOffset < _logStartOffset || fetchOffset > _logEndOffset)
            {
                result = new LogRead(ReadOnlyMemory<byte>.Empty, _logEndOffset, lso, _logStartOffset, null);
                return ErrorCode.OffsetOutOfRange;
            }
            long maxOffset = readCommitted ? lso : _logEndOffset;
            int first = FindBatchLocked(fetchOffset);
            int count = 0;
            int size = 0;
            for (int i = first; i >= 0 && i < _batches.Count; i++)
            {
                var b = _batches[i];
                if (b.BaseOffset >= maxOffset)
                {
                    break;
                }
                if (size + b.Bytes.Length > maxBytes && !(count == 0 && minOneBatch))
                {
                    break;
                }
                size += b.Bytes.Length;
                count++;
            }
            ReadOnlyMemory<byte> records = ContiguousLocked(first, count, size);
            long lastReturned = count == 0 ? -1 : _batches[first + count - 1].LastOffset;
            List<AbortedTransaction>? aborted = null;
            if (readCommitted)
            {
                aborted = [];
                foreach (var t in _aborted)
                {
                    if (t.LastOffset >= fetchOffset && t.FirstOffset <= lastReturned)
                    {
                        aborted.Add(t);
                    }
                }
            }
            result = new LogRead(records, _logEndOffset, lso, _logStartOffset, aborted);
            return ErrorCode.None;
        }
    }

    /// <summary>
    /// Moves the log start offset up to <paramref name="offset"/> (-1: the high watermark) and drops
    /// batches wholly below it (DeleteRecords). Returns OFFSET_OUT_OF_RANGE beyond the high watermark.
    /// </summary>
    public ErrorCode DeleteRecordsBefore(long offset, out long lowWatermark)
    {
        lock (_lock)
        {
            if (offset == -1)
            {
                offset = _logEndOffset;
            }
            if (offset < 0 || offset > _logEndOffset)
            {
                lowWatermark = -1;
                return ErrorCode.OffsetOutOfRange;
            }
            if (offset > _logStartOffset)
            {
                _logStartOffset = offset;
                int keep = _batches.FindIndex(b => b.LastOffset >= offset);
                _batches.RemoveRange(0, keep < 0 ? _batches.Count : keep);
                SignalLocked();
            }
            lowWatermark = _logStartOffset;
            return ErrorCode.None;
        }
    }

    /// <summary>
    /// Deletes whole batches from the start of the log as Kafka deletes segments: first those
    /// whose largest timestamp is more than <paramref name="retentionMs"/> before
    /// <paramref name="nowMs"/> (a prefix: it stops at the first younger batch), then, while the
    /// log would still hold at least <paramref name="retentionBytes"/> without it, the oldest
    /// batch. -1 disables either rule. The log start offset moves to the first batch kept (the log
    /// end offset when none is). Returns how many batches went.
    /// </summary>
    public int ApplyRetention(long nowMs, long retentionMs, long retentionBytes)
    {
        lock (_lock)
        {
            int remove = 0;
            if (retentionMs >= 0)
            {
                while (remove < _batches.Count && nowMs - _batches[remove].MaxTimestamp > retentionMs)
                {
                    remove++;
                }
            }
            if (retentionBytes >= 0)
            {
                long size = 0;
                for (int i = remove; i < _batches.Count; i++)
                {
                    size += _batches[i].Bytes.Length;
                }
                while (remove < _batches.Count && size - _batches[remove].Bytes.Length >= retentionBytes)
                {
                    size -= _batches[remove].Bytes.Length;
                    remove++;
                }
            }
            if (remove == 0)
            {
                return 0;
            }
            long newStart = remove < _batches.Count ? _batches[remove].BaseOffset : _logEndOffset;
            _batches.RemoveRange(0, remove);
            _logStartOffset = Math.Max(_logStartOffset, newStart);
            SignalLocked();
            return remove;
        }
    }

    /// <summary>
    /// The producers this partition knows (DescribeProducers): id, epoch, last sequence written,
    /// timestamp of their last batch or marker, the coordinator epoch of their last marker (-1
    /// before any) and the first offset of their open transaction (-1 when none), by producer id.
    /// </summary>
    public IReadOnlyList<ActiveProducer> ActiveProducers()
    {
        lock (_lock)
        {
            return [.. _producers.OrderBy(p => p.Key).Select(p => new ActiveProducer(
                p.Key, p.Value.Epoch, p.Value.LastSequence, p.Value.LastTimestamp, p.Value.CoordinatorEpoch,
                _openTransactions.TryGetValue(p.Key, out long first) ? first : -1))];
        }
    }

    /// <summary>The leader epoch in force at <paramref name="offset"/>, or -1.</summary>
    public int EpochAt(long offset)
    {
        lock (_lock)
        {
            int epoch = -1;
            foreach (var e in _epochs)
            {
                if (e.StartOffset <= offset)
                {
                    epoch = e.Epoch;
                }
            }
            return epoch;
        }
    }

    /// <summary>
    /// The end offset of <paramref name="requestedEpoch"/>: the start offset of the first later
    /// epoch, or the log end offset for the latest epoch (Kafka's OffsetForLeaderEpoch).
    /// </summary>
    public (int Epoch, long EndOffset) EndOffsetForEpoch(int requestedEpoch)
    {
        lock (_lock)
        {
            if (requestedEpoch < 0 || _epochs.Count == 0)
            {
                return (-1, -1);
            }
            if (_epochs[^1].Epoch == requestedEpoch)
            {
                return (requestedEpoch, _logEndOffset);
            }
            int higher = _epochs.FindIndex(e => e.Epoch > requestedEpoch);
            if (higher < 0)
            {
                return (-1, -1);
            }
            int floor = higher - 1;
            return floor < 0 ? (requestedEpoch, _epochs[higher].StartOffset) : (_epochs[floor].Epoch, _epochs[higher].StartOffset);
        }
    }

    /// <summary>
    /// The first offset whose record timestamp is at least <paramref name="timestamp"/>, with that
    /// timestamp and the batch's leader epoch; offset -1 when there is none (ListOffsets).
    /// </summary>
    public (long Offset, long Timestamp, int Epoch) OffsetForTimestamp(long timestamp)
    {
        lock (_lock)
        {
            using var reader = new RecordBatchReader();
            foreach (var stored in _batches)
            {
                if (stored.MaxTimestamp < timestamp || stored.IsControl)
                {
                    continue;
                }
                reader.Reset(stored.Bytes);
                if (!reader.TryReadBatch(out var view))
                {
                    continue;
                }
                foreach (var record in reader.ReadRecords(view))
                {
                    if (record.Timestamp >= timestamp && record.Offset >= _logStartOffset)
                    {
                        return (record.Offset, record.Timestamp, stored.LeaderEpoch);
                    }
                }
            }
            return (-1, -1, -1);
        }
    }

    /// <summary>The offset and timestamp of the record with the largest timestamp (the first such), or -1 (ListOffsets -3).</summary>
    public (long Offset, long Timestamp, int Epoch) MaxTimestamp()
    {
        lock (_lock)
        {
            StoredBatch? best = null;
            foreach (var stored in _batches)
            {
                if (!stored.IsControl && (best is null || stored.MaxTimestamp > best.MaxTimestamp))
                {
                    best = stored;
                }
            }
            if (best is null)
            {
                return (-1, -1, -1);
            }
            using var reader = new RecordBatchReader();
            reader.Reset(best.Bytes);
            if (reader.TryReadBatch(out var view))
            {
                foreach (var record in reader.ReadRecords(view))
                {
                    if (record.Timestamp == best.MaxTimestamp)
                    {
                        return (record.Offset, record.Timestamp, best.LeaderEpoch);
                    }
                }
            }
            return (best.LastOffset, best.MaxTimestamp, best.LeaderEpoch);
        }
    }

    /// <summary>
    /// Room for a batch of <paramref name="size"/> bytes. Batches are packed one after another into
    /// slabs that grow from <see cref="FirstSlabSize"/> to <see cref="MaxSlabSize"/> as the log does
    /// (taken from <see cref="SlabMemory"/>'s shared blocks), so consecutive batches can be served
    /// to Fetch as one slice without copying. Stored bytes are never written again.
    /// </summary>
    private Memory<byte> AllocateLocked(int size)
    {
        if (_slab.Length - _slabUsed < size)
        {
            int next = Math.Clamp(_slab.Length * 2, FirstSlabSize, MaxSlabSize);
            if (size > next)
            {
                return SlabMemory.Take(size);
            }
            _slab = SlabMemory.Take(next);
            _slabUsed = 0;
        }
        var room = _slab.Slice(_slabUsed, size);
        _slabUsed += size;
        return room;
    }

    /// <summary>
    /// The bytes of <paramref name="count"/> batches from index <paramref name="first"/>: a slice of
    /// the slab when they lie next to each other in one, else a copy.
    /// </summary>
    private ReadOnlyMemory<byte> ContiguousLocked(int first, int count, int size)
    {
        if (count == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        var head = _batches[first].Bytes;
        if (count == 1)
        {
            return head;
        }
        if (MemoryMarshal.TryGetArray(head, out ArraySegment<byte> start))
        {
            int end = start.Offset + start.Count;
            int i = 1;
            for (; i < count; i++)
            {
                if (!MemoryMarshal.TryGetArray(_batches[first + i].Bytes, out ArraySegment<byte> next) || next.Array != start.Array || next.Offset != end)
                {
                    break;
                }
                end += next.Count;
            }
            if (i == count)
            {
                return start.Array.AsMemory(start.Offset, size);
            }
        }
        byte[] copy = GC.AllocateUninitializedArray<byte>(size);
        int position = 0;
        for (int i = 0; i < count; i++)
        {
            var bytes = _batches[first + i].Bytes;
            bytes.Span.CopyTo(copy.AsSpan(position));
            position += bytes.Length;
        }
        return copy;
    }

    private void AddLocked(StoredBatch stored, int leaderEpoch)
    {
        if (_epochs.Count == 0 || _epochs[^1].Epoch < leaderEpoch)
        {
            _epochs.Add((leaderEpoch, stored.BaseOffset));
        }
        _batches.Add(stored);
        _logEndOffset = stored.LastOffset + 1;
        SignalLocked();
    }

    private long LastStableOffsetLocked()
    {
        long lso = _logEndOffset;
        foreach (long first in _openTransactions.Values)
        {
            lso = Math.Min(lso, first);
        }
        return lso;
    }

    /// <summary>Index of the batch containing <paramref name="offset"/>, or of the first batch after it; -1 when none.</summary>
    private int FindBatchLocked(long offset)
    {
        int lo = 0;
        int hi = _batches.Count - 1;
        int found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_batches[mid].LastOffset >= offset)
            {
                found = mid;
                hi = mid - 1;
            }
            else
            {
                lo = mid + 1;
            }
        }
        return found;
    }

    private void SignalLocked()
    {
        var old = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private static int NextSequence(int sequence) => sequence == int.MaxValue ? 0 : sequence + 1;

    private readonly record struct BatchMetadata(int FirstSequence, int LastSequence, long BaseOffset, long TimestampMs);

    private sealed class ProducerEntry
    {
        public short Epoch { get; set; }
        public int LastSequence { get; set; } = -1;
        public long LastTimestamp { get; set; } = -1;
        public int CoordinatorEpoch { get; set; } = -1;
        public Queue<BatchMetadata> Recent { get; } = new();
    }
}

/// <summary>Byte offsets in the record batch v2 header that the broker patches (the codec keeps its own layout internal).</summary>
internal static class RecordBatchOffsets
{
    public const int BaseOffset = 0;
    public const int BatchLength = 8;
    public const int PartitionLeaderEpoch = 12;
    public const int Magic = 16;
    public const int HeaderSize = 61;
}
