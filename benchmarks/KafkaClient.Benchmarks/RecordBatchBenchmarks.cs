using System.Text;
using BenchmarkDotNet.Attributes;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Benchmarks;

/// <summary>Shared workload: 1,000 records, 8-byte keys, 100-byte JSON-like values, one header on every record.</summary>
internal static class BatchWorkload
{
    public const int RecordCount = 1000;
    public const long BaseTimestamp = 1_700_000_000_000;

    public static readonly byte[][] Keys = Enumerable.Range(0, RecordCount)
        .Select(i => Encoding.ASCII.GetBytes($"key-{i:D4}"))
        .ToArray();

    public static readonly byte[][] Values = Enumerable.Range(0, RecordCount)
        .Select(i => Encoding.ASCII.GetBytes(JsonLikeValue(i)))
        .ToArray();

    public static readonly RecordHeader[] Headers = [new RecordHeader("source", "bench"u8.ToArray())];

    /// <summary>Size of the uncompressed batch (header plus records): the "record bytes" throughput counts.</summary>
    public static readonly long UncompressedBatchBytes = Encode(new RecordBatchWriter(), CompressionType.None).Length;

    private static string JsonLikeValue(int i)
    {
        string head = $"{{\"id\":{i:D6},\"user\":\"user-{i % 97:D3}\",\"ts\":{BaseTimestamp + i},\"ok\":true,\"note\":\"";
        return head.PadRight(98, 'x') + "\"}";
    }

    public static ReadOnlyMemory<byte> Encode(RecordBatchWriter writer, CompressionType compression)
    {
        writer.Reset();
        writer.Compression = compression;
        for (int i = 0; i < RecordCount; i++)
        {
            writer.Append(BaseTimestamp + i, Keys[i], Values[i], Headers);
        }
        return writer.Finish();
    }
}

/// <summary>Encodes a 1,000-record batch into a reused writer, per codec.</summary>
[MemoryDiagnoser]
public class RecordBatchEncodeBenchmarks
{
    private readonly RecordBatchWriter _writer = new();

    public static long BytesPerOperation => BatchWorkload.UncompressedBatchBytes;

    [Params(CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd)]
    public CompressionType Compression { get; set; }

    [Benchmark]
    public int Encode1000Records() => BatchWorkload.Encode(_writer, Compression).Length;
}

/// <summary>Decodes a 1,000-record batch (CRC check, decompression, every key and value touched), per codec.</summary>
[MemoryDiagnoser]
public class RecordBatchDecodeBenchmarks
{
    private readonly RecordBatchReader _reader = new();
    private byte[] _batch = [];

    public static long BytesPerOperation => BatchWorkload.UncompressedBatchBytes;

    [Params(CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd)]
    public CompressionType Compression { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        using var writer = new RecordBatchWriter();
        _batch = BatchWorkload.Encode(writer, Compression).ToArray();
    }

    [Benchmark]
    public long Decode1000Records()
    {
        long sum = 0;
        _reader.Reset(_batch);
        while (_reader.TryReadBatch(out RecordBatchView batch))
        {
            foreach (RecordView record in _reader.ReadRecords(batch))
            {
                sum += record.Offset + record.Key.Length + record.Value[^1] + record.HeaderCount;
            }
        }
        return sum;
    }
}
