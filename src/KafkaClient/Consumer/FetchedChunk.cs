using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using KafkaClient.Errors;
using KafkaClient.Network;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Consumer;

/// <summary>A record ready to hand out: the record read in place, with its batch's leader epoch and timestamp type.</summary>
internal readonly record struct DecodedRecord(RecordView Record, int LeaderEpoch, TimestampType TimestampType);

/// <summary>
/// The records one fetch returned for one partition, or the error it reported. Decoded lazily by the consume
/// path: batches before the position are skipped, control batches and (under read_committed) batches of
/// aborted transactions are dropped, and compressed batches are inflated into pooled buffers that live as long
/// as the chunk, so zero-copy keys and values stay valid until the application's next consume call.
/// </summary>
internal sealed class FetchedChunk
{
    private DecodedRecord[] _records = [];
    private List<PooledBufferWriter>? _buffers;

    private ResponseFrame? _frame;

    public FetchedChunk(PartitionState state, int version, ReadOnlyMemory<byte> records, long endOffset, List<FetchResponse.AbortedTransaction>? aborted, ResponseFrame? frame = null, int declaredRecords = 0, int endEpoch = -1)
    {
        EndEpoch = endEpoch;
        _frame = frame;
        DeclaredRecords = declaredRecords;
        State = state;
        Version = version;
        RecordSet = records;
        EndOffset = endOffset;
        Aborted = aborted;
    }

    public FetchedChunk(PartitionState state, int version, KafkaException error)
    {
        State = state;
        Version = version;
        Error = error;
    }

    public PartitionState State { get; }

    /// <summary>The partition's <see cref="PartitionState.Version"/> when it was fetched; a different one now means stale.</summary>
    public int Version { get; }

    public ReadOnlyMemory<byte> RecordSet { get; }

    /// <summary>The offset after the last complete batch: the position once every record of the chunk is consumed.</summary>
    public long EndOffset { get; }

    /// <summary>
    /// The leader epoch of the last complete batch: the position's epoch once the chunk is done, even when that batch was
    /// not handed out (a control batch, an aborted transaction's batch), so KIP-320 validation asks about the right epoch.
    /// </summary>
    public int EndEpoch { get; }

    public List<FetchResponse.AbortedTransaction>? Aborted { get; }

    public KafkaException? Error { get; }

    /// <summary>The records the chunk's complete batches declare (found by the fetcher's header scan): the size of the decoded-record array.</summary>
    public int DeclaredRecords { get; }

    /// <summary>The position after the last record handed out from this chunk (-1 before the first); written without the lock.</summary>
    public long Delivered => Volatile.Read(ref _delivered);

    public int DeliveredEpoch => Volatile.Read(ref _deliveredEpoch);

    /// <summary>The offset after the last record a runner handler finished (-1 before the first); written without the lock.</summary>
    public long Processed => Volatile.Read(ref _processed);

    public int ProcessedEpoch => Volatile.Read(ref _processedEpoch);

    private long _delivered = -1;
    private int _deliveredEpoch = -1;
    private long _processed = -1;
    private int _processedEpoch = -1;

    public void PublishDelivered(long nextOffset, int leaderEpoch)
    {
        Volatile.Write(ref _deliveredEpoch, leaderEpoch);
        Volatile.Write(ref _delivered, nextOffset);
    }

    public void PublishProcessed(long nextOffset, int leaderEpoch)
    {
        Volatile.Write(ref _processedEpoch, leaderEpoch);
        Volatile.Write(ref _processed, nextOffset);
    }

    public bool IsDecoded { get; private set; }

    public int Count { get; private set; }

    public int Index { get; set; }

    /// <summary>
    /// The records handed out since the last call (<see cref="Index"/> minus what was counted before), for the records-consumed
    /// metric: counted when the chunk's last record goes out or the chunk is finished, never per record.
    /// </summary>
    public int TakeUncounted()
    {
        int uncounted = Index - _counted;
        _counted = Index;
        return uncounted;
    }

    private int _counted;

    public ref readonly DecodedRecord this[int index] => ref _records[index];

    /// <summary>
    /// The offset after the last complete batch of <paramref name="recordSet"/> (-1 when it holds none), the records
    /// its complete batches declare (an upper bound on what the chunk hands out), and the last complete batch's leader epoch.
    /// </summary>
    public static long FindEndOffset(ReadOnlySpan<byte> recordSet, out int recordCount, out int endEpoch)
    {
        long end = -1;
        recordCount = 0;
        endEpoch = -1;
        int p = 0;
        while (recordSet.Length - p >= 61)
        {
            long baseOffset = BinaryPrimitives.ReadInt64BigEndian(recordSet[p..]);
            int length = BinaryPrimitives.ReadInt32BigEndian(recordSet[(p + 8)..]);
            if (length < 49 || length > recordSet.Length - p - 12)
            {
                break;
            }
            int lastOffsetDelta = BinaryPrimitives.ReadInt32BigEndian(recordSet[(p + 23)..]);
            end = baseOffset + lastOffsetDelta + 1;
            endEpoch = BinaryPrimitives.ReadInt32BigEndian(recordSet[(p + 12)..]);
            recordCount += Math.Max(0, BinaryPrimitives.ReadInt32BigEndian(recordSet[(p + 57)..]));
            p += 12 + length;
        }
        return end;
    }

    /// <summary>Reads the chunk's records from <paramref name="position"/> on.</summary>
    /// <exception cref="KafkaProtocolException">A batch is malformed.</exception>
    /// <exception cref="CorruptRecordException">A CRC mismatch or a bad compressed block.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(RecordBatchReader reader, long position, bool readCommitted, Func<PooledBufferWriter> rentBuffer)
    {
        IsDecoded = true;
        reader.Reset(RecordSet);
        HashSet<long>? abortedProducers = null;
        List<FetchResponse.AbortedTransaction>? aborted = null;
        int nextAborted = 0;
        if (readCommitted && Aborted is { Count: > 0 })
        {
            aborted = [.. Aborted];
            aborted.Sort(static (a, b) => a.FirstOffset.CompareTo(b.FirstOffset));
            abortedProducers = [];
        }
        int count = 0;
        if (DeclaredRecords > 0)
        {
            _records = DecodedRecordPool.Rent(DeclaredRecords);
        }
        while (reader.TryReadBatch(out var batch))
        {
            long lastOffset = batch.LastOffset;
            if (lastOffset < position)
            {
                continue;
            }
            if (aborted is not null)
            {
                while (nextAborted < aborted.Count && aborted[nextAborted].FirstOffset <= lastOffset)
                {
                    abortedProducers!.Add(aborted[nextAborted++].ProducerId);
                }
            }
            if (batch.IsControl)
            {
                if (abortedProducers is not null && batch.IsTransactional)
                {
                    foreach (var control in reader.ReadRecords(batch))
                    {
                        if (ControlRecord.ReadType(control) == ControlRecordType.Abort)
                        {
                            abortedProducers.Remove(batch.ProducerId);
                        }
                    }
                }
                continue;
            }
            if (abortedProducers is not null && batch.IsTransactional && abortedProducers.Contains(batch.ProducerId))
            {
                continue;
            }
            PooledBufferWriter? target = null;
            if (batch.Compression != CompressionType.None)
            {
                target = rentBuffer();
                (_buffers ??= []).Add(target);
            }
            int epoch = batch.PartitionLeaderEpoch;
            var timestampType = batch.TimestampType;
            var records = target is null ? reader.ReadRecords(batch) : reader.ReadRecordsInto(batch, target);
            if (_records.Length < count + batch.RecordCount)
            {
                Grow(count + batch.RecordCount);
            }
            foreach (var record in records)
            {
                if (record.Offset >= position)
                {
                    if (count == _records.Length)
                    {
                        Grow(count + 1);
                    }
                    _records[count++] = new DecodedRecord(record, epoch, timestampType);
                }
            }
        }
        Count = count;
    }

    private void Grow(int needed)
    {
        var bigger = DecodedRecordPool.Rent(Math.Max(needed, Math.Max(16, _records.Length * 2)));
        Array.Copy(_records, bigger, _records.Length);
        Return();
        _records = bigger;
    }

    private void Return()
    {
        if (_records.Length > 0)
        {
            DecodedRecordPool.Return(_records);
            _records = [];
        }
    }

    /// <summary>Gives the pooled record array, decompression buffers and response frame back. The chunk's records are invalid after.</summary>
    public void Release(Action<PooledBufferWriter> returnBuffer)
    {
        Return();
        Interlocked.Exchange(ref _frame, null)?.Release();
        Count = 0;
        if (_buffers is not null)
        {
            foreach (var buffer in _buffers)
            {
                returnBuffer(buffer);
            }
            _buffers = null;
        }
    }
}

/// <summary>
/// Arrays of decoded records, reused from chunk to chunk (a consumer holds two or three at a time). The shared
/// <c>ArrayPool</c> kept handing out fresh arrays here (these arrays are large-object-heap sized), so the consumer keeps
/// its own small free list.
/// </summary>
internal static class DecodedRecordPool
{
    private const int MaxKept = 16;
    private static readonly Stack<DecodedRecord[]> Free = new();

    public static DecodedRecord[] Rent(int minimumLength)
    {
        lock (Free)
        {
            if (Free.TryPeek(out var top) && top.Length >= minimumLength)
            {
                return Free.Pop();
            }
        }
        return new DecodedRecord[(int)Math.Min(Array.MaxLength, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(minimumLength, 16)))];
    }

    public static void Return(DecodedRecord[] array)
    {
        Array.Clear(array);
        lock (Free)
        {
            if (Free.Count < MaxKept)
            {
                Free.Push(array);
            }
        }
    }
}
