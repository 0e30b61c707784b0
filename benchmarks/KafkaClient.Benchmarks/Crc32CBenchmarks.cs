using BenchmarkDotNet.Attributes;
using KafkaClient.Protocol.Records;

namespace KafkaClient.Benchmarks;

/// <summary>CRC-32C over 1 MiB: the dispatching entry point (hardware here) and the table fallback.</summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    private const int Size = 1 << 20;
    private byte[] _data = [];

    public static long BytesPerOperation => Size;

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(1).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public uint Crc32C_1MiB() => Crc32C.Compute(_data);

    [Benchmark]
    public uint Crc32C_1MiB_Software() => Crc32C.AppendSoftware(0, _data);
}
