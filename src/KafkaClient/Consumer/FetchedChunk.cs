using System.Buffers;
using System.Buffers.Binary;
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

    public FetchedChunk(PartitionState state, int version, ReadOnlyMemory<byte> records, long endOffset, List<FetchResponse.AbortedTransaction>? aborted, ResponseFrame? frame = null)
    {
        _frame = frame;
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

    public List<FetchResponse.AbortedTransaction>? Aborted { get; }

    public KafkaException? Error { get; }

    public bool IsDecoded { get; private set; }

    public int Count { get; private set; }

    public int Index { get; set; }

    public ref readonly DecodedRecord this[int index] => ref _records[index];

    /// <summary>The offset after the last complete batch of <paramref name="recordSet"/>, or -1 when it holds none.</summary>
    public static long FindEndOffset(ReadOnlySpan<byte> recordSet)
    {
        long end = -1;
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
            p += 12 + length;
        }
        return end;
    }

    /// <summary>Reads the chunk's records from <paramref name="position"/> on.</summary>
    /// <exception cref="KafkaProtocolException">A batch is malformed.</exception>
    /// <exception cref="CorruptRecordException">A CRC mismatch or a bad compressed block.</exception>
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
        var bigger = ArrayPool<DecodedRecord>.Shared.Rent(Math.Max(needed, Math.Max(16, _records.Length * 2)));
        Array.Copy(_records, bigger, _records.Length);
        Return();
        _records = bigger;
    }

    private void Return()
    {
        if (_records.Length > 0)
        {
            ArrayPool<DecodedRecord>.Shared.Return(_records, clearArray: true);
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
