using BenchmarkDotNet.Attributes;
using KafkaClient.Protocol;
using KafkaClient.Protocol.Messages;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Benchmarks;

/// <summary>
/// Encodes a Produce request (v10, header included) carrying one 1,000-record batch for each of
/// 6 partitions of one topic: the per-request work the producer's sender does on top of batching.
/// </summary>
[MemoryDiagnoser]
public class ProduceRequestEncodeBenchmarks
{
    private const short Version = 10;

    /// <summary>Record bytes per operation (six uncompressed batches), for the GB/s column.</summary>
    public static long BytesPerOperation => 6 * BatchWorkload.UncompressedBatchBytes;
    private readonly PooledBufferWriter _output = new(1 << 20);
    private ProduceRequest _request = null!;
    private readonly RequestHeader _header = new() { RequestApiKey = 0, RequestApiVersion = Version, ClientId = "bench" };

    [GlobalSetup]
    public void Setup()
    {
        var batch = BatchWorkload.Encode(new RecordBatchWriter(), CompressionType.None).ToArray();
        _request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 30_000,
            TopicData =
            [
                new ProduceRequest.TopicProduceData
                {
                    Name = "bench-topic",
                    PartitionData = Enumerable.Range(0, 6).Select(p => new ProduceRequest.PartitionProduceData { Index = p, Records = batch }).ToList(),
                },
            ],
        };
    }

    [Benchmark]
    public int EncodeProduceRequest()
    {
        _output.Reset();
        var writer = new ProtocolWriter(_output);
        writer.WriteInt32(_header.ComputeSize(2) + _request.ComputeSize(Version));
        _header.CorrelationId++;
        _header.Write(ref writer, 2);
        _request.Write(ref writer, Version);
        writer.Flush();
        return _output.WrittenCount;
    }
}
